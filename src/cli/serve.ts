// `clip serve`: the web page and HTTP API over a photo index (see src/server/app.ts).
import { InvalidArgumentError, type Command } from 'commander';
import { buildServer } from '../server/app.js';
import { loadOptions, modelOptions, nonNegativeInt } from './options.js';

const port = (v: string) => {
  const n = nonNegativeInt(v);
  if (n > 65535) throw new InvalidArgumentError(`expected a port number 0-65535, got "${v}"`);
  return n;
};

export function registerServe(program: Command): void {
  modelOptions(program.command('serve').description('search an index in the browser: web page and HTTP API'))
    .requiredOption('--db <file>', 'the index built by `clip index`')
    .option('--port <n>', 'port (0: any free one)', port, 8080)
    .option(
      '--host <address>',
      'address to listen on (other machines can connect only if this is not loopback)',
      '127.0.0.1',
    )
    .option('--thumbnails <dir>', 'thumbnail cache folder (default: <db>.thumbnails)')
    .addHelpText(
      'after',
      '\nExample:\n  clip serve --db photos.clip.db --port 8080   # then open http://127.0.0.1:8080/',
    )
    .action(async (o: Record<string, unknown>, cmd: Command) => {
      const app = await buildServer({
        db: o.db as string,
        model: cmd.getOptionValueSource('model') === 'default' ? undefined : (o.model as string),
        load: loadOptions(o),
        thumbnails: o.thumbnails as string | undefined,
      });
      const address = await app.listen({ port: o.port as number, host: o.host as string });
      console.error(`clip serve: listening on ${address}/`);
      const stop = () => {
        void app.close().then(() => process.exit(0));
      };
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
    });
}
