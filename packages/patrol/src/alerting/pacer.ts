// Lets a burst of work start a few at a time: at most `perTurn` callers pass per turn of the event
// loop, the rest wait for later turns in the order they came. Between turns Node does its I/O, so
// requests started in one turn are sent (and often answered) before the next few are built.
// Aggregation groups created together (a burst of alerts) reach their group_wait together; started
// all in one turn, 100 flushes held 100 payloads and copies at once (bench:alerts: ~3 MB of peak
// RSS). The pace delays the last of 100 flushes by 25 turns (milliseconds), and never limits how
// many run at once: a slow receiver still holds back none of the others.

export class TurnPacer {
  private passed = 0;
  private readonly waiting: (() => void)[] = [];
  private scheduled = false;

  constructor(private readonly perTurn: number) {}

  /** Resolves when the caller may start: at once, or in a later turn. */
  turn(): Promise<void> {
    if (this.waiting.length === 0 && this.passed < this.perTurn) {
      this.passed++;
      this.schedule();
      return Promise.resolve();
    }
    const p = new Promise<void>((resolve) => this.waiting.push(resolve));
    this.schedule();
    return p;
  }

  /** Callers waiting for a later turn. */
  get pending(): number {
    return this.waiting.length;
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => this.next());
  }

  private next(): void {
    this.scheduled = false;
    const run = this.waiting.splice(0, this.perTurn);
    this.passed = run.length;
    for (const r of run) r();
    // The next turn starts counting afresh (and lets the next few through).
    if (this.passed > 0) this.schedule();
  }
}
