// Typed errors: every message names the file or field and says what was expected.

/** A checkpoint file that cannot be read: truncated, not a checkpoint, unsupported layout. */
export class CheckpointError extends Error {
  override name = 'CheckpointError';
  constructor(
    readonly file: string,
    message: string,
  ) {
    super(`${file}: ${message}`);
  }
}

/** A pickle that asks for something the restricted unpickler will not build. */
export class UnsafePickleError extends Error {
  override name = 'UnsafePickleError';
}

/** A state dict that does not describe a model we know (missing key, wrong shape or dtype). */
export class ConfigError extends Error {
  override name = 'ConfigError';
}

/** A graph that cannot be built: the op and the shapes involved are in the message. */
export class GraphError extends Error {
  override name = 'GraphError';
}

/** Input a user passed that is not what the API expects (image, text, tensor shape). */
export class InputError extends Error {
  override name = 'InputError';
}

/** Why a download failed; lets callers react (e.g. try the next mirror on 'http' 404). */
export type DownloadFailure =
  | 'network'
  | 'http'
  | 'checksum'
  | 'corrupt'
  | 'disk-full'
  | 'permission'
  | 'filesystem'
  | 'offline'
  | 'aborted'
  | 'not-a-file';

/** A file that could not be downloaded or verified; the message says what to do next. */
export class DownloadError extends Error {
  override name = 'DownloadError';
  constructor(
    readonly reason: DownloadFailure,
    readonly url: string,
    readonly file: string,
    message: string,
    readonly status?: number,
  ) {
    super(message);
  }
}
