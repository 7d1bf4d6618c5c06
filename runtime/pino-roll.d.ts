// pino-roll ships no types; this is the part the runtime uses (see https://github.com/mcollina/pino-roll).
declare module 'pino-roll' {
  interface PinoRollOptions {
    file: string;
    size?: string | number;
    extension?: string;
    limit?: { count: number; removeOtherLogFiles?: boolean };
    mkdir?: boolean;
    /** Passed to sonic-boom: the mode new files are created with. */
    mode?: number;
  }

  /** The sonic-boom stream pino-roll returns. */
  export interface RollingFile {
    readonly file: string;
    readonly destroyed: boolean;
    write(data: string): boolean;
    end(): void;
    once(event: 'close' | 'error', listener: () => void): this;
  }

  export default function pinoRoll(options: PinoRollOptions): Promise<RollingFile>;
}
