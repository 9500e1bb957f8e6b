/**
 * What a start-up has opened, to be closed in reverse order: a later part may still use an earlier
 * one while it stops (the API drains its queries before the storage closes). A failing close is
 * logged and the rest still close, so one stuck part never leaves the data files open.
 */
export type Close = () => Promise<void> | void;

export class CloseStack {
  private readonly closes: Close[] = [];

  constructor(private readonly onError: (err: unknown) => void) {}

  push(close: Close): void {
    this.closes.push(close);
  }

  /** Closes everything pushed so far, newest first; the stack is empty afterwards. */
  async closeAll(): Promise<void> {
    while (this.closes.length > 0) {
      const close = this.closes.pop() as Close;
      try {
        await close();
      } catch (err) {
        this.onError(err);
      }
    }
  }
}
