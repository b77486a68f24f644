// The database secret key: DATABASE_SECRET_KEY when configured, otherwise a random key kept in
// <DATA_DIR>/database-secret.key (created on first use, mode 0600). crypto/ does the sealing.
import { linkSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { BerthConfig } from '../config/load.js';
import { newSecretKeyMaterial, SecretBox } from '../crypto/index.js';

export const SECRET_KEY_FILE = 'database-secret.key';
const boxes = new WeakMap<BerthConfig, SecretBox>();

export function databaseSecretBox(config: BerthConfig): SecretBox {
  let box = boxes.get(config);
  if (box) return box;
  const configured = config.raw.DATABASE_SECRET_KEY;
  box = new SecretBox(Buffer.from(configured ?? readOrCreateKeyFile(path.join(config.dataDir, SECRET_KEY_FILE)), 'utf8'));
  boxes.set(config, box);
  return box;
}

function readOrCreateKeyFile(file: string): string {
  try {
    return readFileSync(file, 'utf8').trim();
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT')
      throw new Error(`cannot read the database secret key ${file}: ${(e as NodeJS.ErrnoException).code}`);
  }
  mkdirSync(path.dirname(file), { recursive: true });
  // Write a temporary file and link it into place: two processes racing both end up with the winner's key.
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, `${newSecretKeyMaterial()}\n`, { mode: 0o600 });
  try {
    linkSync(tmp, file);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
  } finally {
    rmSync(tmp, { force: true });
  }
  return readFileSync(file, 'utf8').trim();
}
