/** The emulator's log stays bounded across runs: past its limit, a start moves it aside (one generation). */
import { closeSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openLog } from '../../scripts/emulator';

describe('the emulator log', () => {
  let dir: string;
  beforeEach(() => { dir = mkdtempSync(join(tmpdir(), 'emulator-log-')); });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('appends while under the limit, and moves a log past it to moto.log.1, replacing the older one', () => {
    const log = join(dir, 'moto.log');
    closeSync(openLog(dir, 100));
    writeFileSync(log, 'run 1\n');
    const fd = openLog(dir, 100);
    writeSync(fd, 'run 2\n');
    closeSync(fd);
    expect(readFileSync(log, 'utf8')).toBe('run 1\nrun 2\n');
    expect(existsSync(`${log}.1`)).toBe(false);

    writeFileSync(log, 'x'.repeat(150));
    closeSync(openLog(dir, 100));
    expect(statSync(`${log}.1`).size).toBe(150);
    expect(statSync(log).size).toBe(0);

    writeFileSync(log, 'y'.repeat(120));
    closeSync(openLog(dir, 100));
    expect(readFileSync(`${log}.1`, 'utf8')).toBe('y'.repeat(120));
  });
});
