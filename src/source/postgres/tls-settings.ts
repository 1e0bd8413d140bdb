import { readFileSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import path from 'node:path';
import { checkServerIdentity, type ConnectionOptions } from 'node:tls';
import { ConfigError, messageOf } from '../../errors.js';
import type { SourceConnection } from '../../config/source-connection.js';

/**
 * One way to reach the server, as libpq tries them: plain TCP, or TLS with these Node options (built only when that
 * attempt is made, so a key file is read only if TLS is used).
 */
export type Transport = { readonly tls: false } | { readonly tls: true; readonly options: () => TlsSettings };

export interface TlsSettings {
  /** none: encrypt only; ca: the chain must lead to the root file; full: and the host must match the certificate. */
  readonly verify: 'none' | 'ca' | 'full';
  readonly node: ConnectionOptions;
}

const PLAIN: Transport = Object.freeze({ tls: false });

/** libpq never uses TLS over a Unix-domain socket, whatever sslmode says. */
const isSocket = (host: string) => host.startsWith('/') || host.startsWith('@');

/**
 * The attempts libpq makes for an sslmode, in order: disable = plain; allow = plain, then TLS if the server refused
 * it; prefer (the default) = TLS, then plain if TLS failed; require, verify-ca, verify-full = TLS only.
 */
export function transports(source: SourceConnection, home: string = homedir()): Transport[] {
  if (isSocket(source.host)) return [PLAIN];
  const secure: Transport = { tls: true, options: () => tlsSettings(source, home) };
  switch (source.sslMode) {
    case 'disable':
      return [PLAIN];
    case 'allow':
      return [PLAIN, secure];
    case 'prefer':
      return [secure, PLAIN];
    default:
      return [secure];
  }
}

/** A file's text, or undefined if it does not exist (any other read error is a ConfigError naming the file). */
function readIfExists(file: string, what: string): string | undefined {
  try {
    return readFileSync(file, 'utf8');
  } catch (cause) {
    const code = (cause as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
    throw new ConfigError(`Cannot read the ${what} "${file}": ${messageOf(cause)}.`, { cause });
  }
}

/**
 * TLS settings as libpq derives them (fe-secure-openssl.c): the root file (sslrootcert, else ~/.postgresql/root.crt)
 * must exist for verify-ca/verify-full; when it exists the chain is verified in every mode (so `require` with a root
 * file is verify-ca); `system` uses Node's bundled Mozilla roots. A client certificate (sslcert, else
 * ~/.postgresql/postgresql.crt) is sent if the file exists, with its key (sslkey, else ~/.postgresql/postgresql.key),
 * which must not be readable by group or others.
 */
export function tlsSettings(source: SourceConnection, home: string = homedir()): TlsSettings {
  const dir = path.join(home, '.postgresql');
  let verify: TlsSettings['verify'] = source.sslMode === 'verify-full' ? 'full' : source.sslMode === 'verify-ca' ? 'ca' : 'none';
  const node: ConnectionOptions = {};
  if (source.sslRootCert === 'system') {
    verify = 'full'; // Node's trusted roots (no `ca` given)
  } else {
    const rootFile = source.sslRootCert ?? path.join(dir, 'root.crt');
    const ca = readIfExists(rootFile, 'root certificate file (sslrootcert / PGSSLROOTCERT)');
    if (ca === undefined && verify !== 'none') {
      throw new ConfigError(
        `root certificate file "${rootFile}" does not exist (sslmode=${source.sslMode}). Either provide the file (PGSSLROOTCERT or ` +
          '?sslrootcert= in the URL), use the public roots with sslrootcert=system, or change sslmode to disable server certificate verification.',
      );
    }
    if (ca !== undefined) {
      node.ca = ca;
      if (verify === 'none') verify = 'ca';
    }
  }
  const certFile = source.sslCert ?? path.join(dir, 'postgresql.crt');
  const cert = readIfExists(certFile, 'client certificate file (sslcert / PGSSLCERT)');
  if (cert !== undefined) {
    const keyFile = source.sslKey ?? path.join(dir, 'postgresql.key');
    let mode: number;
    let uid: number;
    try {
      const st = statSync(keyFile);
      if (!st.isFile()) throw new ConfigError(`private key file "${keyFile}" is not a regular file.`);
      mode = st.mode;
      uid = st.uid;
    } catch (cause) {
      if (cause instanceof ConfigError) throw cause;
      throw new ConfigError(`certificate present, but not private key file "${keyFile}" (sslkey / PGSSLKEY).`, { cause });
    }
    if ((uid === 0 && (mode & 0o037) !== 0) || (uid !== 0 && (mode & 0o077) !== 0)) {
      throw new ConfigError(
        `private key file "${keyFile}" has group or world access; file must have permissions u=rw (0600) or less if owned by the current user, ` +
          'or permissions u=rw,g=r (0640) or less if owned by root.',
      );
    }
    node.cert = cert;
    node.key = readIfExists(keyFile, 'private key file (sslkey / PGSSLKEY)');
  }
  if (verify === 'none') node.rejectUnauthorized = false;
  else {
    node.rejectUnauthorized = true;
    // verify-ca checks the chain only; verify-full also the host name (or IP address) that was asked for
    node.checkServerIdentity = verify === 'ca' ? () => undefined : (_servername, certificate) => checkServerIdentity(source.host, certificate);
  }
  return { verify, node };
}
