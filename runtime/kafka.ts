// A real Apache Kafka broker for tests, benchmarks and (optionally) `npm start`: a single KRaft node (broker and
// controller) on free loopback ports, from the jars Maven resolves from Maven Central once into the cache.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { cacheDir, type Progress } from './ferretdb';
import { freePort, spawnManaged, waitForTcp, type ManagedProcess } from './processes';

const run = promisify(execFile);
export const KAFKA_VERSION = '4.1.1';

const POM = `<project xmlns="http://maven.apache.org/POM/4.0.0"><modelVersion>4.0.0</modelVersion>
  <groupId>local</groupId><artifactId>usagegraph-kafka-runtime</artifactId><version>1</version>
  <dependencies>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka_2.13</artifactId><version>${KAFKA_VERSION}</version></dependency>
  </dependencies></project>
`;

async function which(command: string): Promise<boolean> {
  try {
    await run('sh', ['-c', `command -v ${command}`]);
    return true;
  } catch {
    return false;
  }
}

/**
 * A cluster id as `StorageTool random-uuid` prints it (16 random bytes in base64url), without starting a JVM. Like
 * Kafka's own Uuid.randomUuid(), one starting with '-' is drawn again: the storage tool's argument parser takes it for
 * an option (`-t -RhFMZ2…`: "argument --cluster-id/-t: expected one argument", one CI run in 64).
 */
export function kafkaClusterId(random: (size: number) => Buffer = randomBytes): string {
  for (;;) {
    const id = random(16).toString('base64url');
    if (!id.startsWith('-')) return id;
  }
}

/** The broker's classpath: resolved by Maven once (a minute the first time), then read from the cache. */
export async function ensureKafka(progress: Progress): Promise<string> {
  const dir = join(cacheDir(), `kafka-${KAFKA_VERSION}`);
  const classpathFile = join(dir, 'classpath.txt');
  if (existsSync(classpathFile)) {
    const classpath = readFileSync(classpathFile, 'utf8').trim();
    if (classpath.split(':').every((jar) => existsSync(jar))) return classpath;
  }
  if (!(await which('java')) || !(await which('mvn'))) {
    if (process.getuid?.() !== 0 || !(await which('apt-get')))
      throw new Error('Kafka needs Java 17+ and Maven: `sudo apt-get install default-jre-headless maven`');
    progress('installing Java and Maven from Debian packages (first Kafka run only)…');
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    const install = () =>
      run('apt-get', ['install', '-y', '--no-install-recommends', 'default-jre-headless', 'maven'], {
        env,
        maxBuffer: 50 * 1024 * 1024,
      });
    await install().catch(async () => {
      await run('apt-get', ['update'], { maxBuffer: 50 * 1024 * 1024 });
      await install();
    });
  }
  progress(`resolving Apache Kafka ${KAFKA_VERSION} from Maven Central (first run only)…`);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'pom.xml'), POM);
  await run('mvn', ['-q', '-B', 'dependency:build-classpath', `-Dmdep.outputFile=${classpathFile}.tmp`], {
    cwd: dir,
    maxBuffer: 50 * 1024 * 1024,
  });
  renameSync(`${classpathFile}.tmp`, classpathFile);
  return readFileSync(classpathFile, 'utf8').trim();
}

export interface RunningKafka {
  /** `host:port` of the broker, for clients. */
  brokers: string;
  /** Where it listens: a restart on the same folder takes the same ports, so clients keep their address. */
  ports: { broker: number; controller: number };
  process: ManagedProcess;
  stop(): Promise<void>;
}

/** Formats a KRaft log folder in `dataDir` and starts one node there; resolves once it accepts connections. */
export async function startKafka(
  classpath: string,
  dataDir: string,
  logFile: string,
  ports?: { broker: number; controller: number },
): Promise<RunningKafka> {
  mkdirSync(dataDir, { recursive: true });
  const broker = ports?.broker ?? (await freePort());
  const controller = ports?.controller ?? (await freePort());
  const properties = join(dataDir, 'server.properties');
  writeFileSync(
    properties,
    [
      'process.roles=broker,controller',
      'node.id=1',
      `controller.quorum.voters=1@127.0.0.1:${controller}`,
      `listeners=PLAINTEXT://127.0.0.1:${broker},CONTROLLER://127.0.0.1:${controller}`,
      `advertised.listeners=PLAINTEXT://127.0.0.1:${broker}`,
      'controller.listener.names=CONTROLLER',
      'listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT',
      `log.dirs=${join(dataDir, 'data')}`,
      'offsets.topic.replication.factor=1',
      'offsets.topic.num.partitions=3',
      'transaction.state.log.replication.factor=1',
      'transaction.state.log.min.isr=1',
      'group.initial.rebalance.delay.ms=0',
      'num.partitions=3',
      '',
    ].join('\n'),
  );
  const env = { ...process.env, KAFKA_HEAP_OPTS: '' };
  if (!existsSync(join(dataDir, 'data', 'meta.properties'))) {
    const clusterId = kafkaClusterId();
    await run(
      'java',
      ['-cp', classpath, 'kafka.tools.StorageTool', 'format', '-t', clusterId, '-c', properties, '--ignore-formatted'],
      { env, maxBuffer: 10 * 1024 * 1024 },
    );
  }
  const proc = spawnManaged(
    'kafka',
    'java',
    ['-Xmx512m', '-XX:+UseSerialGC', '-XX:TieredStopAtLevel=1', '-cp', classpath, 'kafka.Kafka', properties],
    { env, logFile },
  );
  await waitForTcp('127.0.0.1', broker, proc, 180_000);
  return { brokers: `127.0.0.1:${broker}`, ports: { broker, controller }, process: proc, stop: () => proc.stop() };
}
