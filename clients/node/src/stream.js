/**
 * ResponseStream: an async iterable over a server-streaming call that hides grpc-js.
 * @module
 */

import { status as Status } from '@grpc/grpc-js';

import { fromServiceError } from './errors.js';

/**
 * Messages of a server-streaming call, converted one by one. Iterating applies backpressure (the
 * call's Readable is paused while the consumer is busy); leaving the loop early (`break`, `return`,
 * an exception) or calling cancel() cancels the call; a failure is thrown as an MLSuiteError.
 * @template T
 * @implements {AsyncIterable<T>}
 */
export class ResponseStream {
  #call;
  #convert;
  #keep;
  #iterator;
  #headers;
  #cancelled = false;
  #finished = false;

  /**
   * @param {import('@grpc/grpc-js').ClientReadableStream<any>} call The started call.
   * @param {(message: any) => T} convert Response message -> value.
   * @param {(value: T) => boolean} [keep] Values it rejects are skipped.
   */
  constructor(call, convert, keep = () => true) {
    this.#call = call;
    this.#convert = convert;
    this.#keep = keep;
    // The opening headers carry the server's x-request-id: a stream a proxy cuts has no trailers.
    call.on('metadata', (headers) => {
      this.#headers = headers;
    });
    this.#iterator = this.#values();
  }

  /** @returns {AsyncGenerator<T, void, undefined>} */
  async *#values() {
    try {
      for await (const message of this.#call) {
        const value = this.#convert(message);
        if (!this.#keep(value)) continue;
        this.onValue(value);
        yield value;
      }
      this.#finished = true;
    } catch (error) {
      this.#finished = true;
      if (this.#cancelled && error?.code === Status.CANCELLED) return;
      throw fromServiceError(error, this.#headers);
    } finally {
      this.cancel();
    }
  }

  /**
   * Hook for subclasses: sees every value before the consumer does.
   * @param {T} _value
   */
  onValue(_value) {}

  /** @returns {AsyncGenerator<T, void, undefined>} */
  [Symbol.asyncIterator]() {
    return this.#iterator;
  }

  /** Stop receiving and cancel the call (a no-op once the stream has ended). */
  cancel() {
    if (this.#finished || this.#cancelled) return;
    this.#cancelled = true;
    // grpc-js reports the cancellation as an 'error' event; nobody reads it any more.
    this.#call.on('error', () => {});
    this.#call.cancel();
  }
}
