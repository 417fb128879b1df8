import cliProgress from 'cli-progress';

export interface Progress {
  update(done: number, extra?: Record<string, string | number>): void;
  stop(): void;
}

/**
 * A progress bar on a terminal (stderr); elsewhere (CI, pipes) a plain line every few seconds, so
 * long jobs always show that they move.
 */
export function startProgress(label: string, total: number, unit: string): Progress {
  if (process.stderr.isTTY) {
    const bar = new cliProgress.SingleBar(
      {
        format: `${label} [{bar}] {percentage}% | {value}/{total} ${unit} | {rate}/s | eta {eta_formatted}`,
        stream: process.stderr,
        hideCursor: true,
        etaBuffer: 50,
      },
      cliProgress.Presets.shades_classic,
    );
    const started = Date.now();
    bar.start(total, 0, { rate: 0 });
    return {
      update: (done, extra) => bar.update(done, { rate: Math.round(done / Math.max(0.001, (Date.now() - started) / 1000)), ...extra }),
      stop: () => bar.stop(),
    };
  }
  let last = 0;
  return {
    update(done) {
      if (Date.now() - last < 3000) return;
      last = Date.now();
      const pct = total > 0 ? ` (${Math.floor((100 * done) / total)}%)` : '';
      process.stderr.write(`${label}: ${done}/${total} ${unit}${pct}\n`);
    },
    stop() {},
  };
}
