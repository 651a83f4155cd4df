// Test helper: how often the event loop turned while a promise was pending.

/** Event-loop turns (setImmediate callbacks) while `p` runs. */
export async function turnsDuring<T>(p: () => Promise<T>): Promise<{ value: T; turns: number }> {
  let turns = 0;
  let on = true;
  const tick = () => {
    turns++;
    if (on) setImmediate(tick);
  };
  setImmediate(tick);
  try {
    const value = await p();
    return { value, turns };
  } finally {
    on = false;
  }
}
