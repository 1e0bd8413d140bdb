import path from 'node:path';
import type { Destination } from '../destination/destination.js';
import { listPackages, readManifest, removePackage } from '../package/load-package.js';
import { ownerIsAlive } from '../package/package-owner.js';
import type { EventListener } from './events.js';
import { messageOf } from '../errors.js';

/**
 * Deals with load packages a crashed run left behind, oldest first, before the new run extracts anything. `root` is
 * this destination's own package folder (package-root.ts), and the caller holds the destination's lock:
 * - already committed (the crash came after the commit): the folder is removed;
 * - fully extracted but not loaded: it is loaded now, so the work is not lost and state advances in order;
 * - extraction incomplete (or unreadable manifest): discarded; the destination was never touched by it;
 * - its manifest names another destination, or its owner process is still running: left alone, untouched.
 */
export async function recoverPackages(
  destination: Destination,
  root: string,
  emit: EventListener,
  identity: string,
): Promise<{ runId: string; action: string }[]> {
  const done: { runId: string; action: string }[] = [];
  for (const runId of await listPackages(root)) {
    const dir = path.join(root, runId);
    const manifest = await readManifest(dir);
    let action: 'completed' | 'discarded' | 'removed' | 'left';
    let reason: string;
    if (manifest?.destination !== undefined && manifest.destination !== identity) {
      action = 'left';
      reason = `it belongs to another destination (${manifest.destination}); left untouched`;
    } else if (manifest?.owner && ownerIsAlive(manifest.owner)) {
      action = 'left';
      reason = `its run is still going (pid ${manifest.owner.pid} on ${manifest.owner.host}); left untouched`;
    } else if (await destination.history.isRunLoaded(runId)) {
      action = 'removed';
      reason = 'it was already loaded; only its files were left';
    } else if (manifest && manifest.state === 'extracted') {
      try {
        await destination.loadPackage(manifest, dir);
        action = 'completed';
        reason = `its extraction had finished (${manifest.tables.length} tables); loaded now`;
      } catch (error) {
        // the load rolled back: nothing of it is visible, and this run extracts everything afresh
        action = 'discarded';
        reason = `loading it failed (${messageOf(error)}); this run extracts afresh`;
      }
    } else {
      action = 'discarded';
      reason = 'its extraction did not finish; nothing of it had been loaded';
    }
    if (action !== 'left') await removePackage(dir);
    emit({ type: 'package_recovered', runId, action, reason });
    if (action !== 'left') done.push({ runId, action });
  }
  return done;
}
