/** The bench's command line (bench/run.ts): sizes, rounds, profiles, with the defaults --scale changes. */
import { parseArgs } from 'node:util';
import { PROFILES, type Profile } from './lib-hard.js';

export const USAGE =
  'usage: npm run bench -- [--scale K=1] [--accounts N=300000×K] [--repeat K=3 (1 with --scale > 1)] [--profiles generator,hard (generator with --scale > 1)] ' +
  '[--hard-accounts N/3] [--pg-url URL] [--keep] [--skip-rss-scaling] [--lag D]';

/** The default size: 300,000 accounts ≈ 5.25 M rows of the generator's data. */
export const DEFAULT_ACCOUNTS = 300_000;

export interface BenchOptions {
  readonly scale: number;
  readonly accounts: number;
  readonly hardAccounts: number;
  readonly repeat: number;
  readonly profiles: Profile[];
  readonly adminUrl: string;
  readonly keep: boolean;
  readonly skipRssScaling: boolean;
  readonly lag: string | undefined;
}

function fail(message: string): never {
  console.error(message);
  process.exit(2);
}

/**
 * `--scale K` multiplies the default size (K = 10: ≈ 50 M rows) and, unless given, runs one round of the generator's
 * profile only (the hard profile stays measured at the default size: 10 × would be ≈ 15 GB of CSV). Part d's N/10
 * is then the default size, so its per-row and RSS ratios compare 10 N with N.
 */
export function benchOptions(args: string[] = process.argv.slice(2)): BenchOptions {
  const { values: v } = parseArgs({
    args,
    options: {
      scale: { type: 'string', default: '1' },
      accounts: { type: 'string' },
      repeat: { type: 'string' },
      'pg-url': { type: 'string', default: 'postgres://postgres@127.0.0.1:5432/postgres' },
      keep: { type: 'boolean', default: false },
      'skip-rss-scaling': { type: 'boolean', default: false },
      lag: { type: 'string' },
      profiles: { type: 'string' },
      'hard-accounts': { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
  });
  if (v.help) {
    console.log(USAGE);
    process.exit(0);
  }
  const scale = Number(v.scale);
  if (!Number.isInteger(scale) || scale < 1) fail('--scale must be an integer ≥ 1');
  const accounts = v.accounts === undefined ? DEFAULT_ACCOUNTS * scale : Number(v.accounts);
  const repeat = v.repeat === undefined ? (scale > 1 ? 1 : 3) : Number(v.repeat);
  if (!Number.isInteger(accounts) || accounts < 10 || !Number.isInteger(repeat) || repeat < 1) fail('--accounts must be an integer ≥ 10 and --repeat an integer ≥ 1');
  const profiles = (v.profiles ?? (scale > 1 ? 'generator' : PROFILES.join(','))).split(',').map((p) => p.trim()).filter(Boolean) as Profile[];
  if (profiles.length === 0 || profiles.some((p) => !PROFILES.includes(p))) fail(`--profiles takes a comma-separated subset of ${PROFILES.join(',')}`);
  const hardAccounts = v['hard-accounts'] === undefined ? Math.max(10, Math.round(Math.min(accounts, DEFAULT_ACCOUNTS) / 3)) : Number(v['hard-accounts']);
  if (!Number.isInteger(hardAccounts) || hardAccounts < 10) fail('--hard-accounts must be an integer ≥ 10');
  return { scale, accounts, hardAccounts, repeat, profiles, adminUrl: v['pg-url'], keep: v.keep, skipRssScaling: v['skip-rss-scaling'], lag: v.lag };
}
