// Starts the real daemons (nsqlookupd, nsqd, nsqadmin) on port 0 and learns
// their addresses from the "TCP: listening on" / "HTTP: listening on" lines.
import { spawn } from 'node:child_process';
import { createWriteStream, existsSync } from 'node:fs';
import path from 'node:path';

export class Daemon {
  constructor(name, proc, logFile) {
    this.name = name;
    this.proc = proc;
    this.logFile = logFile;
    this.lines = [];
    this.addrs = {};
    this.exited = null;
  }

  tail(n = 20) {
    return this.lines.slice(-n).join('\n');
  }

  async stop() {
    if (this.exited) return;
    const done = new Promise((resolve) => this.proc.once('exit', resolve));
    this.proc.kill('SIGTERM');
    const timer = setTimeout(() => this.proc.kill('SIGKILL'), 5000);
    await done;
    clearTimeout(timer);
  }
}

/**
 * Spawns `bin` with `args` and resolves once every listener named in
 * `listeners` (e.g. ['TCP', 'HTTP']) has logged its address.
 */
export function startDaemon({ binDir, bin, name, args, listeners, logDir, timeoutMs = 20000 }) {
  const exe = path.join(binDir, bin);
  if (!existsSync(exe)) {
    throw new Error(`${exe} not found: build it first (cargo build -p ${bin} --bin ${bin}) or set NSQ_BIN_DIR`);
  }
  const logFile = path.join(logDir, `${name}.log`);
  const log = createWriteStream(logFile);
  const proc = spawn(exe, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const d = new Daemon(name, proc, logFile);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      reject(new Error(`${name} did not log ${listeners.join(' and ')} addresses within ${timeoutMs} ms:\n${d.tail()}`));
    }, timeoutMs);
    const check = () => {
      if (listeners.every((l) => d.addrs[l])) {
        clearTimeout(timer);
        resolve(d);
      }
    };
    const onData = (buf) => {
      log.write(buf);
      for (const line of buf.toString().split('\n')) {
        if (!line) continue;
        d.lines.push(line);
        const m = line.match(/\b(TCP|HTTP|HTTPS): listening on (\S+)/);
        if (m && !d.addrs[m[1]]) d.addrs[m[1]] = m[2];
      }
      check();
    };
    proc.stdout.on('data', onData);
    proc.stderr.on('data', onData);
    proc.once('exit', (code, signal) => {
      d.exited = { code, signal };
      log.end();
      clearTimeout(timer);
      reject(new Error(`${name} exited early (code ${code}, signal ${signal}):\n${d.tail()}`));
    });
    proc.once('error', (e) => {
      clearTimeout(timer);
      reject(new Error(`${name} could not start: ${e.message}`));
    });
  });
}
