import { randomBytes } from 'node:crypto';

/**
 * The names one live check creates and later removes: a Glue database, an S3 prefix in the caller's bucket (data
 * under `<prefix>data/<database>/`, Athena results under `<prefix>athena-results/`) and an IAM role. Everything the
 * check deletes must be one of these or lie under the prefix; the `is…` guards below are the only way in.
 */
export interface ScratchNames {
  /** 12 hex digits, shared by every name. */
  readonly id: string;
  /** The caller's existing bucket (never created nor deleted). */
  readonly bucket: string;
  /** `ingesta_live_<id>` */
  readonly database: string;
  /** `ingesta-live/<id>/` (with the trailing slash: no sibling like `ingesta-live/<id>x/` matches it) */
  readonly prefix: string;
  /** `ingesta-live/<id>/data`: BUCKET_URL's key prefix; ingesta writes under `<dataPrefix>/<database>/`. */
  readonly dataPrefix: string;
  /** `ingesta-live/<id>/athena-results`: where every Athena query of the check writes its results. */
  readonly resultsPrefix: string;
  /** `ingesta-live-<id>` */
  readonly role: string;
}

const ID = /^[0-9a-f]{12}$/;

/** Fresh scratch names in `bucket` (a random id unless given, e.g. by a test). */
export function scratchNames(bucket: string, id: string = randomBytes(6).toString('hex')): ScratchNames {
  if (!ID.test(id)) throw new Error(`scratch id must be 12 lower-case hex digits, not "${id}"`);
  if (!/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(bucket)) throw new Error(`INGESTA_LIVE_BUCKET "${bucket}" is not an S3 bucket name`);
  const prefix = `ingesta-live/${id}/`;
  return Object.freeze({
    id,
    bucket,
    database: `ingesta_live_${id}`,
    prefix,
    dataPrefix: `${prefix}data`,
    resultsPrefix: `${prefix}athena-results`,
    role: `ingesta-live-${id}`,
  });
}

/** True only for the scratch database itself (and only when the names are well formed). */
export function isScratchDatabase(names: ScratchNames, database: string): boolean {
  return ID.test(names.id) && names.database === `ingesta_live_${names.id}` && database === names.database;
}

/** True only for the scratch role itself. */
export function isScratchRole(names: ScratchNames, role: string): boolean {
  return ID.test(names.id) && names.role === `ingesta-live-${names.id}` && role === names.role;
}

/** True only for a key in the scratch bucket strictly under the scratch prefix. */
export function isScratchKey(names: ScratchNames, bucket: string, key: string): boolean {
  return (
    ID.test(names.id) &&
    names.prefix === `ingesta-live/${names.id}/` &&
    bucket === names.bucket &&
    key.startsWith(names.prefix) &&
    key.length > names.prefix.length &&
    !key.split('/').includes('..')
  );
}
