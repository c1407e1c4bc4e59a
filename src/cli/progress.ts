/** Progress on stderr for long runs: count, rate and time left, redrawn at most every 500 ms. */
export interface Progress {
  tick(n?: number): void;
  note(message: string): void;
  done(): void;
}

export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds)) return '?';
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = s % 60;
  return h > 0 ? `${h}h${String(m).padStart(2, '0')}m` : m > 0 ? `${m}m${String(sec).padStart(2, '0')}s` : `${sec}s`;
}

export function createProgress(label: string, total: number, stream: NodeJS.WriteStream = process.stderr): Progress {
  const start = Date.now();
  let count = 0;
  let lastDraw = 0;
  const tty = Boolean(stream.isTTY);
  const line = () => {
    const elapsed = (Date.now() - start) / 1000;
    const rate = count / Math.max(elapsed, 1e-3);
    const left = rate > 0 ? (total - count) / rate : Infinity;
    return `${label}: ${count}/${total} (${rate.toFixed(1)}/s, ${formatDuration(left)} left)`;
  };
  const draw = (force = false) => {
    const now = Date.now();
    // Without a TTY (CI logs, pipes) print a plain line every 10 s instead of redrawing.
    if (!force && now - lastDraw < (tty ? 500 : 10_000)) return;
    lastDraw = now;
    stream.write(tty ? `\r\x1b[K${line()}` : `${line()}\n`);
  };
  return {
    tick(n = 1) {
      count += n;
      draw();
    },
    note(message) {
      stream.write(tty ? `\r\x1b[K${message}\n` : `${message}\n`);
      draw(true);
    },
    done() {
      draw(true);
      if (tty) stream.write('\n');
      const elapsed = (Date.now() - start) / 1000;
      stream.write(`${label}: ${count} in ${formatDuration(elapsed)} (${(count / Math.max(elapsed, 1e-3)).toFixed(2)}/s)\n`);
    },
  };
}
