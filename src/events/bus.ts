/**
 * Fan-out of lifecycle events to observers. An observer that throws (or
 * rejects) is reported through `onObserverError` and never breaks job
 * processing or the other observers.
 *
 * @module
 */
import type { LifecycleEvent, Observer } from "./lifecycle.ts";

/** Called when an observer fails; defaults to a console warning. */
export type ObserverErrorHandler = (
  observer: Observer,
  event: LifecycleEvent,
  error: unknown,
) => void;

/**
 * Synchronous fan-out with isolated observers.
 *
 * @example
 * ```ts
 * const bus = new EventBus();
 * const off = bus.subscribe({ name: "log", onEvent: (e) => console.log(e.kind) });
 * bus.emit({ kind: "enqueued", job_id: "1", type: "email", at: Date.now(), priority: 0 });
 * off();
 * ```
 */
export class EventBus {
  #observers: Observer[] = [];
  #onError: ObserverErrorHandler;

  constructor(onError?: ObserverErrorHandler) {
    this.#onError = onError ?? ((observer, event, error) => {
      console.warn(`observer ${observer.name} failed on ${event.kind}:`, error);
    });
  }

  /** Registers an observer; returns the function that removes it. */
  subscribe(observer: Observer): () => void {
    this.#observers = [...this.#observers, observer];
    return () => {
      this.#observers = this.#observers.filter((o) => o !== observer);
    };
  }

  /** Delivers `event` to every observer; never throws. */
  emit(event: LifecycleEvent): void {
    // Copy-on-write list: observers may (un)subscribe while we iterate.
    for (const observer of this.#observers) {
      try {
        const maybe = observer.onEvent(event);
        if (maybe instanceof Promise) maybe.catch((error) => this.#report(observer, event, error));
      } catch (error) {
        this.#report(observer, event, error);
      }
    }
  }

  /** `emit` for each event, in order. */
  emitAll(events: readonly LifecycleEvent[]): void {
    for (const event of events) this.emit(event);
  }

  #report(observer: Observer, event: LifecycleEvent, error: unknown): void {
    try {
      this.#onError(observer, event, error);
    } catch {
      // An error handler that throws must not break emit either.
    }
  }
}
