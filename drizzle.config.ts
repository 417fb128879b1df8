import { defineConfig } from 'drizzle-kit';

export default defineConfig({
  dialect: 'postgresql',
  schema: ['./src/db/schema.ts', './identity/identity-schema.ts', './src/sources/sources-schema.ts'],
  out: './migrations/postgres',
});
