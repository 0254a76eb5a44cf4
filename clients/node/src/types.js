/**
 * The values TrainerClient returns and takes, as JSDoc types (plain frozen objects; no protobuf).
 * @module
 */

/**
 * @typedef {number | string | boolean | number[]} HyperparameterValue An int, double, choice, flag or int list.
 * @typedef {Record<string, number | string | boolean | null>} Instance One Predict row: feature -> value.
 */

/**
 * @typedef {object} DatasetColumn
 * @property {string} name Column name from the header.
 * @property {string} dtype "int64", "double", "string" or "bool".
 * @property {number} nullCount Missing values.
 */

/**
 * @typedef {object} Dataset An uploaded tabular dataset.
 * @property {string} name "datasets/{id}".
 * @property {string} displayName
 * @property {string} format "csv" or "parquet".
 * @property {number} rowCount Data rows (header excluded).
 * @property {DatasetColumn[]} columns In file order.
 * @property {number} sizeBytes
 * @property {string} sha256 Lower-case hex.
 * @property {Date | null} createTime
 */

/**
 * @typedef {object} ParameterSpec A typed hyperparameter of a model type.
 * @property {string} name
 * @property {string} description
 * @property {'int' | 'double' | 'categorical' | 'bool' | 'int_list'} type
 * @property {HyperparameterValue} default
 * @property {number | null} [min] Lower bound (int, double; element bound for int_list).
 * @property {number | null} [max] Upper bound.
 * @property {string[]} [choices] Categorical choices.
 * @property {number} [minLength] Fewest int_list elements.
 * @property {number} [maxLength] Most int_list elements.
 */

/**
 * @typedef {object} ModelType A trainable model family.
 * @property {string} id e.g. "neural_network".
 * @property {string} displayName
 * @property {string} category "regression" or "classification".
 * @property {string} description
 * @property {string} speed "fast", "medium" or "slow".
 * @property {string} complexity "low", "medium" or "high".
 * @property {boolean} available
 * @property {boolean} gpuAccelerated
 * @property {ParameterSpec[]} parameters
 */

/**
 * @typedef {object} TrainingJobSpec What to train (input and output shape).
 * @property {string} dataset "datasets/{id}".
 * @property {string} targetColumn
 * @property {string} modelType A ModelType id.
 * @property {string[]} [featureColumns] Empty: every column but the target.
 * @property {Record<string, HyperparameterValue>} [hyperparameters]
 * @property {number} [validationFraction] 0 means 0.2, otherwise in (0, 0.5].
 * @property {number} [seed]
 * @property {string} [device] "auto" (default), "cpu", "cuda" or "mps".
 */

/**
 * @typedef {object} EpochProgress
 * @property {number} epoch 1..totalEpochs.
 * @property {number} totalEpochs
 * @property {number} trainLoss
 * @property {number | null} validationLoss
 * @property {number} learningRate
 * @property {number} samplesPerSecond
 * @property {number} elapsed Seconds since fitting began.
 * @property {number} eta Seconds until the last epoch ends.
 */

/**
 * @typedef {object} TrainingJob
 * @property {string} name "trainingJobs/{id}".
 * @property {TrainingJobSpec} spec
 * @property {string} state QUEUED, RUNNING, CANCELLING, SUCCEEDED, FAILED or CANCELLED.
 * @property {string} requestId
 * @property {Date | null} createTime
 * @property {Date | null} startTime
 * @property {Date | null} endTime
 * @property {string | null} phase
 * @property {EpochProgress | null} latestEpoch
 * @property {Record<string, number>} metrics
 * @property {string} model "models/{id}" once SUCCEEDED.
 * @property {{reason: string, message: string} | null} error
 * @property {string} device
 * @property {number} droppedTargetRows
 * @property {number} trainRows
 * @property {number} validationRows
 * @property {number} lastSequence
 * @property {Record<string, HyperparameterValue>} resolvedHyperparameters
 */

/**
 * @typedef {object} TrainingEvent One event of a job's stream; kind names which fields are set.
 * @property {number} sequence Stored events count from 1; snapshots and heartbeats repeat the latest.
 * @property {Date | null} time
 * @property {string} state Job state after the event.
 * @property {'snapshot' | 'epochProgress' | 'phaseChange' | 'heartbeat' | 'stateChange' | 'result' | 'unknown'} kind
 * @property {boolean} stored False for the opening snapshot and heartbeats.
 * @property {boolean} terminal True when the job is SUCCEEDED, FAILED or CANCELLED after it.
 * @property {TrainingJob} [job] kind "snapshot".
 * @property {EpochProgress} [epoch] kind "epochProgress".
 * @property {string} [phase] kind "phaseChange".
 * @property {{reason: string, message: string} | null} [error] kind "stateChange" into FAILED.
 * @property {string} [message] kind "stateChange".
 * @property {Record<string, number>} [metrics] kind "result".
 * @property {string} [model] kind "result".
 */

/**
 * @typedef {object} Model A trained model.
 * @property {string} name "models/{id}".
 * @property {string} trainingJob
 * @property {string} modelType
 * @property {string} category
 * @property {string} targetColumn
 * @property {{name: string, dtype: string}[]} featureColumns
 * @property {string[]} classes
 * @property {Record<string, HyperparameterValue>} hyperparameters
 * @property {Record<string, number>} metrics
 * @property {string} device
 * @property {string} dataset
 * @property {string} datasetSha256
 * @property {Record<string, string>} libraryVersions
 * @property {number} sizeBytes
 * @property {Date | null} createTime
 */

/**
 * @typedef {object} Prediction Regression sets number; classification sets label and probabilities.
 * @property {number | null} number
 * @property {string | null} label
 * @property {Record<string, number>} probabilities
 * @property {number | string | null} value The number or the label.
 */

export {};
