import { describe, expect, it } from 'vitest';
import { DestinationError } from '../../src/errors.js';
import { packageIoError } from '../../src/package/load-package.js';

const io = (code: string) => packageIoError(Object.assign(new Error(code), { code }), '/data/.ingesta/packages/x', 'Writing the load package manifest');

describe('packageIoError: what failed in the package folder, and what to do about that failure', () => {
  it('a permission error asks for write access, not free space (regression: EACCES suggested "free space there")', () => {
    for (const code of ['EACCES', 'EPERM']) {
      const e = io(code)!;
      expect(e).toBeInstanceOf(DestinationError);
      expect(e.message).toContain(`permission denied (${code}) in the load package folder /data/.ingesta/packages/x`);
      expect(e.message).toContain('write access');
      expect(e.message).not.toMatch(/free space/i);
    }
  });
  it('a full disk asks for space; a read-only file system for a writable folder', () => {
    expect(io('ENOSPC')!.message).toMatch(/the disk is full \(ENOSPC\).*Free space there or point --package-dir/);
    expect(io('EROFS')!.message).toMatch(/read-only \(EROFS\).*writable folder/);
    expect(io('EROFS')!.message).not.toMatch(/free space/i);
  });
  it('other errors are not I/O errors of the package', () => {
    expect(io('ECONNRESET')).toBeUndefined();
  });
});
