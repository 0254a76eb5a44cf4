/**
 * TrainerService messages (as proto-loader decodes them) <-> plain, frozen JS values.
 *
 * Enums become short names the way the Python client spells them: job states and phases upper case
 * ("RUNNING", "FITTING"), categories, dtypes, formats, speeds and devices lower case ("regression").
 * Timestamps become Date (null when unset), Durations seconds. The value types are in types.js.
 * @module
 */

export const TERMINAL_STATES = Object.freeze(['SUCCEEDED', 'FAILED', 'CANCELLED']);
/** Every training job state, as listTrainingJobs' state filter takes them (any case). */
export const JOB_STATES = Object.freeze(['QUEUED', 'RUNNING', 'CANCELLING', ...TERMINAL_STATES]);
const EVENT_KINDS = new Set(['snapshot', 'epochProgress', 'phaseChange', 'heartbeat', 'stateChange', 'result']);
const DEVICES = ['auto', 'cpu', 'cuda', 'mps'];
const CATEGORIES = ['regression', 'classification'];

/**
 * "TRAINING_JOB_STATE_RUNNING" -> "RUNNING"; "" for the UNSPECIFIED value.
 * @param {string} name Enum value name.
 * @param {string} prefix Its prefix.
 * @returns {string}
 */
export function enumSuffix(name, prefix) {
  const suffix = name && name.startsWith(prefix) ? name.slice(prefix.length) : '';
  return suffix === 'UNSPECIFIED' ? '' : suffix;
}

/**
 * Throws a RangeError unless `pageSize` fits the int32 page_size field (a larger number would wrap).
 * @param {number} pageSize
 */
export function requirePageSize(pageSize) {
  if (!Number.isInteger(pageSize) || pageSize < 0 || pageSize > 2 ** 31 - 1) {
    throw new RangeError('pageSize must be an integer from 0 (the server default) to 2^31 - 1');
  }
}

/**
 * A google.protobuf.Timestamp -> Date, or null when unset.
 * @param {{seconds: number, nanos: number} | null | undefined} ts
 * @returns {Date | null}
 */
export function toDate(ts) {
  return ts ? new Date(ts.seconds * 1000 + Math.floor(ts.nanos / 1e6)) : null;
}

/**
 * A google.protobuf.Duration -> seconds.
 * @param {{seconds: number, nanos: number} | null | undefined} d
 * @returns {number}
 */
function toSeconds(d) {
  return d ? d.seconds + d.nanos / 1e9 : 0;
}

const freezeAll = (items) => Object.freeze(items.map((x) => Object.freeze(x)));

/**
 * A JS hyperparameter value -> HyperparameterValue (integers as int_value, which double specs accept).
 * @param {string} name Parameter name, for the error message.
 * @param {import('./types.js').HyperparameterValue} value
 * @returns {object}
 */
export function hyperparameterToProto(name, value) {
  if (typeof value === 'boolean') return { boolValue: value };
  if (typeof value === 'string') return { stringValue: value };
  if (typeof value === 'number' && Number.isFinite(value)) {
    return Number.isInteger(value) ? { intValue: value } : { doubleValue: value };
  }
  if (Array.isArray(value) && value.every((v) => Number.isInteger(v))) return { intListValue: { values: value } };
  throw new TypeError(`hyperparameter ${name}: expected a number, string, boolean or integer array`);
}

/**
 * HyperparameterValue -> its JS value.
 * @param {any} value
 * @returns {import('./types.js').HyperparameterValue | null}
 */
function hyperparameterFromProto(value) {
  if (!value?.kind) return null;
  return value.kind === 'intListValue' ? [...value.intListValue.values] : value[value.kind];
}

const hyperparametersFromProto = (map) =>
  Object.freeze(Object.fromEntries(Object.entries(map ?? {}).map(([k, v]) => [k, hyperparameterFromProto(v)])));

/**
 * "regression" | "classification" | undefined -> the ModelCategory name.
 * @param {string | undefined} category
 * @returns {string}
 */
export function categoryToProto(category) {
  if (!category) return 'MODEL_CATEGORY_UNSPECIFIED';
  if (!CATEGORIES.includes(category)) throw new RangeError(`category must be one of ${CATEGORIES.join(', ')}`);
  return `MODEL_CATEGORY_SUPERVISED_${category.toUpperCase()}`;
}

/**
 * A TrainingJobSpec -> its message.
 * @param {import('./types.js').TrainingJobSpec} spec
 * @returns {object}
 */
export function specToProto(spec) {
  if (spec === null || typeof spec !== 'object') throw new TypeError('spec must be a TrainingJobSpec object');
  const device = (spec.device ?? 'auto').toLowerCase();
  if (!DEVICES.includes(device)) throw new RangeError(`device must be one of ${DEVICES.join(', ')}`);
  return {
    dataset: spec.dataset,
    targetColumn: spec.targetColumn,
    featureColumns: [...(spec.featureColumns ?? [])],
    modelType: spec.modelType,
    hyperparameters: Object.fromEntries(
      Object.entries(spec.hyperparameters ?? {}).map(([k, v]) => [k, hyperparameterToProto(k, v)]),
    ),
    validationFraction: spec.validationFraction ?? 0,
    seed: spec.seed ?? 0,
    device: `DEVICE_${device.toUpperCase()}`,
  };
}

/**
 * A row of plain values -> google.protobuf.Struct (null and undefined mean a missing value).
 * @param {import('./types.js').Instance} instance
 * @returns {object}
 */
export function instanceToStruct(instance) {
  const fields = {};
  for (const [key, value] of Object.entries(instance)) {
    if (value === null || value === undefined || (typeof value === 'number' && Number.isNaN(value))) {
      fields[key] = { nullValue: 'NULL_VALUE' };
    } else if (typeof value === 'number') {
      fields[key] = { numberValue: value };
    } else if (typeof value === 'string') {
      fields[key] = { stringValue: value };
    } else if (typeof value === 'boolean') {
      fields[key] = { boolValue: value };
    } else {
      throw new TypeError(`feature ${key}: expected a number, string, boolean or null`);
    }
  }
  return { fields };
}


/**
 * One column of a columnar Predict -> FeatureValues: text if any value is a string, numbers otherwise
 * (booleans as 1 / 0). null, undefined and NaN are missing values.
 * @param {string} name The feature, for error messages.
 * @param {ArrayLike<number | string | boolean | null | undefined>} values One per row.
 * @returns {object}
 */
export function featureValuesToProto(name, values) {
  if (typeof values === 'string') {
    throw new TypeError(`column ${name}: expected an array of values, not a string`);
  }
  const list = Array.from(values);
  const isMissing = (v) => v === null || v === undefined || (typeof v === 'number' && Number.isNaN(v));
  if (!list.some((v) => typeof v === 'string')) {
    const numbers = list.map((v, row) => {
      if (isMissing(v)) return NaN;
      if (typeof v === 'number') return v;
      if (typeof v === 'boolean') return v ? 1 : 0;
      throw new TypeError(`column ${name}, row ${row}: expected a number, string, boolean or null`);
    });
    return { doubles: { values: numbers } };
  }
  const texts = [];
  const missingRows = [];
  list.forEach((v, row) => {
    if (typeof v === 'string') {
      texts.push(v);
    } else if (isMissing(v)) {
      texts.push('');
      missingRows.push(row);
    } else {
      throw new TypeError(`column ${name}, row ${row}: a column of text holds only strings and nulls`);
    }
  });
  return { strings: { values: texts, missingRows } };
}

/** @returns {import('./types.js').Dataset} */
export function datasetFromProto(d) {
  return Object.freeze({
    name: d.name,
    displayName: d.displayName,
    format: enumSuffix(d.format, 'DATASET_FORMAT_').toLowerCase(),
    rowCount: d.rowCount,
    columns: freezeAll(
      d.columns.map((c) => ({
        name: c.name,
        dtype: enumSuffix(c.dtype, 'COLUMN_TYPE_').toLowerCase(),
        nullCount: c.nullCount,
      })),
    ),
    sizeBytes: d.sizeBytes,
    sha256: d.sha256,
    createTime: toDate(d.createTime),
  });
}

/** @returns {import('./types.js').ParameterSpec} */
function parameterFromProto(p) {
  const base = { name: p.name, description: p.description };
  const s = p[p.spec];
  switch (p.spec) {
    case 'intSpec':
    case 'doubleSpec':
      return {
        ...base,
        type: p.spec === 'intSpec' ? 'int' : 'double',
        default: s.defaultValue,
        min: s.minValue ?? null,
        max: s.maxValue ?? null,
      };
    case 'categoricalSpec':
      return { ...base, type: 'categorical', default: s.defaultValue, choices: Object.freeze([...s.choices]) };
    case 'boolSpec':
      return { ...base, type: 'bool', default: s.defaultValue };
    case 'intListSpec':
      return {
        ...base,
        type: 'int_list',
        default: Object.freeze([...s.defaultValue]),
        min: s.minValue,
        max: s.maxValue,
        minLength: s.minLength,
        maxLength: s.maxLength,
      };
    default:
      return { ...base, type: 'unknown', default: null };
  }
}

/** @returns {import('./types.js').ModelType} */
export function modelTypeFromProto(m) {
  return Object.freeze({
    id: m.id,
    displayName: m.displayName,
    category: enumSuffix(m.category, 'MODEL_CATEGORY_SUPERVISED_').toLowerCase(),
    description: m.description,
    speed: enumSuffix(m.speed, 'MODEL_SPEED_').toLowerCase(),
    complexity: enumSuffix(m.complexity, 'MODEL_COMPLEXITY_').toLowerCase(),
    available: m.available,
    gpuAccelerated: m.gpuAccelerated,
    parameters: freezeAll(m.parameters.map(parameterFromProto)),
  });
}

/** @returns {import('./types.js').EpochProgress} */
function epochFromProto(e) {
  return Object.freeze({
    epoch: e.epoch,
    totalEpochs: e.totalEpochs,
    trainLoss: e.trainLoss,
    validationLoss: e.validationLoss ?? null,
    learningRate: e.learningRate,
    samplesPerSecond: e.samplesPerSecond,
    elapsed: toSeconds(e.elapsed),
    eta: toSeconds(e.eta),
  });
}

const errorFromProto = (e) => (e && e.reason ? Object.freeze({ reason: e.reason, message: e.message }) : null);
const jobState = (name) => enumSuffix(name, 'TRAINING_JOB_STATE_');

/** @returns {import('./types.js').TrainingJobSpec} */
function specFromProto(s) {
  return Object.freeze({
    dataset: s.dataset,
    targetColumn: s.targetColumn,
    modelType: s.modelType,
    featureColumns: Object.freeze([...s.featureColumns]),
    hyperparameters: hyperparametersFromProto(s.hyperparameters),
    validationFraction: s.validationFraction,
    seed: s.seed,
    device: enumSuffix(s.device, 'DEVICE_').toLowerCase() || 'auto',
  });
}

/** @returns {import('./types.js').TrainingJob} */
export function jobFromProto(j) {
  return Object.freeze({
    name: j.name,
    spec: specFromProto(j.spec ?? {}),
    state: jobState(j.state),
    requestId: j.requestId,
    createTime: toDate(j.createTime),
    startTime: toDate(j.startTime),
    endTime: toDate(j.endTime),
    phase: enumSuffix(j.phase, 'TRAINING_PHASE_') || null,
    latestEpoch: j.latestEpoch ? epochFromProto(j.latestEpoch) : null,
    metrics: Object.freeze({ ...j.metrics }),
    model: j.model,
    error: errorFromProto(j.error),
    device: j.device,
    droppedTargetRows: j.droppedTargetRows,
    trainRows: j.trainRows,
    validationRows: j.validationRows,
    lastSequence: j.lastSequence,
    resolvedHyperparameters: hyperparametersFromProto(j.resolvedHyperparameters),
  });
}

/** @returns {import('./types.js').TrainingEvent} */
export function eventFromProto(e) {
  const kind = EVENT_KINDS.has(e.payload) ? e.payload : 'unknown';
  const state = jobState(e.state);
  const event = {
    sequence: e.sequence,
    time: toDate(e.time),
    state,
    kind,
    stored: kind !== 'snapshot' && kind !== 'heartbeat',
    terminal: TERMINAL_STATES.includes(state),
  };
  if (kind === 'snapshot') event.job = jobFromProto(e.snapshot);
  if (kind === 'epochProgress') event.epoch = epochFromProto(e.epochProgress);
  if (kind === 'phaseChange') event.phase = enumSuffix(e.phaseChange.phase, 'TRAINING_PHASE_');
  if (kind === 'stateChange') {
    event.error = errorFromProto(e.stateChange.error);
    event.message = e.stateChange.message;
  }
  if (kind === 'result') {
    event.metrics = Object.freeze({ ...e.result.metrics });
    event.model = e.result.model;
  }
  return Object.freeze(event);
}

/** @returns {import('./types.js').Model} */
export function modelFromProto(m) {
  return Object.freeze({
    name: m.name,
    trainingJob: m.trainingJob,
    modelType: m.modelType,
    category: enumSuffix(m.category, 'MODEL_CATEGORY_SUPERVISED_').toLowerCase(),
    targetColumn: m.targetColumn,
    featureColumns: freezeAll(
      m.featureColumns.map((c) => ({ name: c.name, dtype: enumSuffix(c.dtype, 'COLUMN_TYPE_').toLowerCase() })),
    ),
    classes: Object.freeze([...m.classes]),
    hyperparameters: hyperparametersFromProto(m.hyperparameters),
    metrics: Object.freeze({ ...m.metrics }),
    device: m.device,
    dataset: m.dataset,
    datasetSha256: m.datasetSha256,
    libraryVersions: Object.freeze({ ...m.libraryVersions }),
    sizeBytes: m.sizeBytes,
    createTime: toDate(m.createTime),
  });
}

/** @returns {import('./types.js').Prediction} */
export function predictionFromProto(p) {
  const number = p.value === 'number' ? p.number : null;
  const label = p.value === 'label' ? p.label : null;
  return Object.freeze({ number, label, probabilities: Object.freeze({ ...p.probabilities }), value: label ?? number });
}
