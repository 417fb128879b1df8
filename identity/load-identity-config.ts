import { readFileSync } from 'node:fs';
import { errorMessage } from '../src/common/errors.ts';
import { IdentityConfigError, parseIdentityConfig, type ResolvedIdentityConfig } from './identity-config.ts';

/** Reads the identity config (JSON) from `file`, or the defaults without one; errors name the file. */
export function loadIdentityConfig(file?: string): ResolvedIdentityConfig {
  if (!file) return parseIdentityConfig({});
  let input: unknown;
  try {
    input = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new IdentityConfigError(`${file}: cannot read the identity config: ${errorMessage(err)}`);
  }
  try {
    return parseIdentityConfig(input);
  } catch (err) {
    throw new IdentityConfigError(`${file}: ${errorMessage(err)}`);
  }
}
