import type { Command } from 'commander';
import { loadConfig } from '../../config/env.ts';
import { createLogger } from '../../common/logger.ts';
import { runDemo } from '../../demo/run-demo.ts';
import { intOption } from '../cli-error.ts';

export function demoCommand(program: Command): void {
  program
    .command('demo')
    .description('generate an online shop population, send it through the API, and show what was stored')
    .option('--people <n>', 'number of shoppers', intOption('--people', 1, 10_000_000), 5000)
    .option('--seed <n>', 'random seed (the same seed gives the same data)', intOption('--seed', 0, 2 ** 32 - 1), 42)
    .action(async (opts: { people: number; seed: number }) => {
      const config = loadConfig();
      await runDemo(config, createLogger('warn', { fd: 2 }), opts);
    });
}
