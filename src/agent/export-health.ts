/**
 * Says when export starts failing and when it works again, once each per
 * episode, as the attempts happen (the transport retries within each export's
 * deadline, so the losses it books come much later): which endpoint, and why.
 */
export class ExportHealth {
  private failedAttempts = 0;

  constructor(
    /** the logs URL, credentials redacted */
    private readonly endpoint: string,
    private readonly warn: (line: string) => void,
  ) {}

  /** One HTTP attempt ended: undefined when the receiver answered 2xx, else why not. */
  attempt(failure: string | undefined): void {
    if (failure === undefined) {
      if (this.failedAttempts > 0) this.warn(`export to ${this.endpoint} works again (after ${this.failedAttempts} failed attempts)`);
      this.failedAttempts = 0;
      return;
    }
    if (this.failedAttempts++ === 0) {
      this.warn(`export to ${this.endpoint} failing: ${failure}; retrying, and counting what cannot be sent (bindsnoop_export_failures_total)`);
    }
  }

  /** Whether the last attempt failed. */
  failing(): boolean {
    return this.failedAttempts > 0;
  }
}
