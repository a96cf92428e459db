// Files the connector keeps in its data directory, written so that no reader ever sees half of one.
// Hand-written: write-file-atomic does the replace half, but not the first-writer-wins publish, and its
// types lag its releases by four majors; both halves here are a temp file plus one link or rename.
import { randomBytes } from 'node:crypto';
import { chmod, link, rename, rm, stat, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

const tempBeside = (file: string) => join(dirname(file), `.${basename(file)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);

/**
 * Publishes `data` as `file` only if no file is there yet: written whole to a temp file first, then linked into
 * place, which fails with EEXIST when another writer got there first. Returns whether this writer's data won.
 * A concurrent reader sees either no file or the whole first one, never an empty or partial file.
 */
export async function createOnce(file: string, data: string, mode: number): Promise<boolean> {
  const temp = tempBeside(file);
  await writeFile(temp, data, { mode, flag: 'wx' });
  try {
    await link(temp, file);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw err;
  } finally {
    await rm(temp, { force: true });
  }
}

/**
 * Replaces `file` with `data` in one rename, keeping the old file's permissions, so a crash mid-write leaves the
 * old file, never a truncated one.
 */
export async function replaceFile(file: string, data: string): Promise<void> {
  const mode = (await stat(file)).mode & 0o7777;
  const temp = tempBeside(file);
  try {
    await writeFile(temp, data, { mode: 0o600, flag: 'wx' });
    await chmod(temp, mode);
    await rename(temp, file);
  } catch (err) {
    await rm(temp, { force: true });
    throw err;
  }
}
