// Released contract versions: immutable SDL files `schema/releases/<contract>/v<major>.<minor>.graphql`, a changelog,
// and versions.json with each major's sunset. `full` is the unversioned full graph's baseline for breaking checks.
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export const SCHEMA_DIR = join(__dirname, '..', 'schema');
export const RELEASES_DIR = join(SCHEMA_DIR, 'releases');
/** A major stays served at least this long after the next major is released (the breaking-change policy). */
export const SUNSET_DAYS = 90;

export interface Release {
  contract: string;
  major: number;
  minor: number;
  /** v1.2 */
  version: string;
  file: string;
  sdl: string;
}

export interface VersionsFile {
  releases: Array<{ version: string; releasedAt: string }>;
  /** Per major: the day after which it is no longer served (null while it is the newest). */
  sunsets: Record<string, string | null>;
}

const VERSION_FILE = /^v(\d+)\.(\d+)\.graphql$/;

export function releasesOf(contract: string, dir = RELEASES_DIR): Release[] {
  const folder = join(dir, contract);
  if (!existsSync(folder)) return [];
  return readdirSync(folder)
    .flatMap((name) => {
      const m = VERSION_FILE.exec(name);
      if (!m) return [];
      const file = join(folder, name);
      return [
        {
          contract,
          major: Number(m[1]),
          minor: Number(m[2]),
          version: `v${m[1]}.${m[2]}`,
          file,
          sdl: readFileSync(file, 'utf8'),
        },
      ];
    })
    .sort((a, b) => a.major - b.major || a.minor - b.minor);
}

export const latestRelease = (contract: string, dir = RELEASES_DIR): Release | undefined =>
  releasesOf(contract, dir).at(-1);

export function versionsFile(contract: string, dir = RELEASES_DIR): VersionsFile {
  const file = join(dir, contract, 'versions.json');
  return existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as VersionsFile) : { releases: [], sunsets: {} };
}

/** The newest release of each major that is still supported (its sunset, if any, has not passed). */
export function supportedReleases(contract: string, today = new Date(), dir = RELEASES_DIR): Release[] {
  const sunsets = versionsFile(contract, dir).sunsets;
  const newestPerMajor = new Map<number, Release>();
  for (const r of releasesOf(contract, dir)) newestPerMajor.set(r.major, r);
  return [...newestPerMajor.values()].filter((r) => {
    const sunset = sunsets[String(r.major)];
    return !sunset || new Date(`${sunset}T23:59:59Z`) >= today;
  });
}

const HEADER = (contract: string, version: string) =>
  `# Released version ${version} of the ${contract === 'full' ? 'full graph (baseline for breaking-change checks)' : `${contract} contract`}. Immutable: a change is a new version (npm run schema:release).\n`;

/** Writes the next version (and its changelog entry); the previous major gets a sunset when a new major is cut. */
export function writeRelease(input: {
  contract: string;
  sdl: string;
  major: boolean;
  changes: string[];
  today?: Date;
  dir?: string;
}): Release {
  const dir = input.dir ?? RELEASES_DIR;
  const today = input.today ?? new Date();
  const latest = latestRelease(input.contract, dir);
  const major = !latest ? 1 : input.major ? latest.major + 1 : latest.major;
  const minor = !latest || input.major ? 0 : latest.minor + 1;
  const version = `v${major}.${minor}`;
  const folder = join(dir, input.contract);
  mkdirSync(folder, { recursive: true });
  const file = join(folder, `${version}.graphql`);
  const sdl = HEADER(input.contract, version) + input.sdl;
  writeFileSync(file, sdl, { flag: 'wx' }); // never overwrite a released version
  const day = today.toISOString().slice(0, 10);
  const versions = versionsFile(input.contract, dir);
  versions.releases.push({ version, releasedAt: day });
  versions.sunsets[String(major)] ??= null;
  if (latest && input.major) {
    versions.sunsets[String(latest.major)] = new Date(today.getTime() + SUNSET_DAYS * 86_400_000)
      .toISOString()
      .slice(0, 10);
  }
  writeFileSync(join(folder, 'versions.json'), `${JSON.stringify(versions, null, 2)}\n`);
  const changelog = join(folder, 'CHANGELOG.md');
  const previous = existsSync(changelog) ? readFileSync(changelog, 'utf8').replace(/^# .*\n\n/, '') : '';
  const entry = [
    `## ${version} — ${day}`,
    '',
    ...(input.changes.length ? input.changes.map((c) => `- ${c}`) : ['- First release.']),
    ...(latest && input.major
      ? ['', `v${latest.major} stays served until ${versions.sunsets[String(latest.major)]} (its sunset).`]
      : []),
    '',
  ].join('\n');
  writeFileSync(changelog, `# Changelog: ${input.contract}\n\n${entry}\n${previous}`);
  return { contract: input.contract, major, minor, version, file, sdl };
}
