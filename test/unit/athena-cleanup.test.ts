import { AccessDeniedException, DeleteTableCommand, GetTablesCommand, GlueClient } from '@aws-sdk/client-glue';
import { DeleteObjectsCommand, GetObjectCommand, ListObjectsV2Command, NoSuchKey, S3Client } from '@aws-sdk/client-s3';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { cleanUpLeftovers } from '../../src/destination/athena/athena-cleanup.js';
import { resolveKeepSupersededMs } from '../../src/config/runtime-settings.js';
import { datasetKeys, EMPTY_STATE, type AthenaState } from '../../src/destination/athena/athena-state.js';
import { GlueCatalog } from '../../src/destination/athena/glue-catalog.js';
import { S3Store } from '../../src/destination/athena/s3-store.js';

const glueMock = mockClient(GlueClient);
const s3Mock = mockClient(S3Client);
const credentials = { accessKeyId: 'AKIDTEST', secretAccessKey: 'not-a-secret' };
const FAST = { sleep: async () => {} };
const keys = datasetKeys('raw', 'ds');
const NOW = Date.parse('2026-01-02T12:00:00Z');
const minutesAgo = (m: number) => new Date(NOW - m * 60_000);

const state: AthenaState = {
  ...EMPTY_STATE,
  tables: {
    accounts: {
      kind: 'parquet', location: 's3://lake/raw/ds/accounts/data/r1/', columns: [], primaryKey: ['id'], source: 'public.accounts',
      writeDisposition: 'replace', cursor: undefined, runId: 'r1', snapshotAt: undefined, rows: 1, sources: {},
    },
  },
};

/** The folders of accounts: r1 (superseded), r2 (what Glue reads), r3 (a run that died before its repoint). */
function folders(r2WrittenMinutesAgo: number) {
  const objects = [
    { Key: 'raw/ds/accounts/data/r1/part-00000.zstd.parquet', LastModified: minutesAgo(r2WrittenMinutesAgo + 60) },
    { Key: 'raw/ds/accounts/data/r2/part-00000.zstd.parquet', LastModified: minutesAgo(r2WrittenMinutesAgo) },
    { Key: 'raw/ds/accounts/data/r3/part-00000.zstd.parquet', LastModified: minutesAgo(1) },
  ];
  s3Mock.on(ListObjectsV2Command).callsFake((input: { Prefix: string }) => ({ Contents: objects.filter((o) => o.Key.startsWith(input.Prefix)) }));
  s3Mock.on(DeleteObjectsCommand).resolves({});
}

const deleted = () => s3Mock.commandCalls(DeleteObjectsCommand).flatMap((c) => c.args[0].input.Delete!.Objects!.map((o) => o.Key!.split('/')[4]));

async function cleanUp(over: { state?: AthenaState; currentRun?: string; mergeTables?: string[] } = {}) {
  return cleanUpLeftovers({
    dataset: 'ds', keys, state: over.state ?? state, currentRun: over.currentRun ?? 'r4', mergeTables: over.mergeTables, keepSupersededMs: 60 * 60_000, fence: async () => undefined, now: () => NOW,
    glue: new GlueCatalog(new GlueClient({ region: 'eu-west-1', credentials }), undefined, FAST),
    s3: new S3Store(new S3Client({ region: 'eu-west-1', credentials }), 'lake', FAST),
  });
}

beforeEach(() => {
  glueMock.reset();
  s3Mock.reset();
});

describe('clean-up of full tables\' data folders', () => {
  it('keeps a superseded folder for the grace period (queries may still read it), removes a never-published one at once', async () => {
    glueMock.on(GetTablesCommand).resolves({ TableList: [{ Name: 'accounts', StorageDescriptor: { Location: 's3://lake/raw/ds/accounts/data/r2/' } }] });
    folders(10);
    await cleanUp();
    expect(deleted()).toEqual(['r3']);
  });

  it('removes a superseded folder once its replacement is older than the grace period', async () => {
    glueMock.on(GetTablesCommand).resolves({ TableList: [{ Name: 'accounts', StorageDescriptor: { Location: 's3://lake/raw/ds/accounts/data/r2/' } }] });
    folders(90);
    await cleanUp();
    expect(deleted().sort()).toEqual(['r1', 'r3']);
  });

  it('deletes nothing when Glue cannot be listed, and says so', async () => {
    glueMock.on(GetTablesCommand).rejects(new AccessDeniedException({ message: 'not authorized', $metadata: { httpStatusCode: 400 } }));
    folders(90);
    const notes = await cleanUp();
    expect(deleted()).toEqual([]);
    expect(glueMock.commandCalls(DeleteTableCommand)).toEqual([]);
    expect(notes).toEqual([expect.stringMatching(/^clean-up skipped: the Glue tables of ds could not be listed \(.*not authorized/)]);
  });

  it('INGESTA_KEEP_SUPERSEDED sets the grace period (1 hour by default)', () => {
    expect(resolveKeepSupersededMs({})).toBe(3_600_000);
    expect(resolveKeepSupersededMs({ INGESTA_KEEP_SUPERSEDED: '0' })).toBe(0);
    expect(resolveKeepSupersededMs({ INGESTA_KEEP_SUPERSEDED: '2h' })).toBe(7_200_000);
    expect(() => resolveKeepSupersededMs({ INGESTA_KEEP_SUPERSEDED: 'later' })).toThrow(/INGESTA_KEEP_SUPERSEDED/);
  });
});

describe('clean-up of merge tables\' batch folders (#16: uploads start before anything is published)', () => {
  const merged: AthenaState = {
    ...EMPTY_STATE,
    tables: { contents: { ...state.tables.accounts!, kind: 'iceberg', location: 's3://lake/raw/ds/contents/iceberg/', runId: 'r2' } },
  };
  const records: Record<string, string> = { r3: 'loaded', r4: 'failed' };

  beforeEach(() => {
    glueMock.on(GetTablesCommand).resolves({ TableList: [] });
    const objects = ['r1', 'r2', 'r2-backfill', 'r3', 'r4', 'r5-backfill', 'r6'].map((r) => ({ Key: `raw/ds/contents/batches/${r}/part-00000.zstd.parquet` }));
    objects.push({ Key: 'raw/ds/content_attributes/batches/r5/part-00000.zstd.parquet' });
    s3Mock.on(ListObjectsV2Command).callsFake((input: { Prefix: string }) => ({ Contents: objects.filter((o) => o.Key.startsWith(input.Prefix)) }));
    s3Mock.on(DeleteObjectsCommand).resolves({});
    s3Mock.on(GetObjectCommand).callsFake((input: { Key: string }) => {
      const run = /runs\/(.+)\.json$/.exec(input.Key)![1]!;
      if (!records[run]) throw new NoSuchKey({ message: 'The specified key does not exist.', $metadata: { httpStatusCode: 404 } });
      return { Body: { transformToString: async () => JSON.stringify({ status: records[run] }) } };
    });
  });

  it('removes the folders of runs newer than the last committed load that did not commit (killed: no record; failed), keeps committed ones and the current run\'s', async () => {
    const notes = await cleanUp({ state: merged, currentRun: 'r6', mergeTables: ['content_attributes'] });
    // r1, r2 (and its backfill): the committed load and before; r3: newer but recorded loaded; r6: this run
    // (content_attributes is not in state.json yet: every folder of it but this run's is judged by its run record)
    expect(deleted().sort()).toEqual(['r4', 'r5', 'r5-backfill']);
    expect(notes.sort()).toEqual(['content_attributes: removed 1 batch folder(s) of runs that did not commit', 'contents: removed 2 batch folder(s) of runs that did not commit']);
  });
});
