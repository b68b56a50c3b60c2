// Read by the Prisma CLI (generate). The running service does not use it: it
// builds its own client with @prisma/adapter-pg in src/db/prisma.ts.
import { defineConfig } from "prisma/config";

export default defineConfig({
  schema: "prisma/schema.prisma",
  migrations: { path: "prisma/migrations" },
  datasource: { url: process.env.DATABASE_URL ?? "postgresql://localhost:5432/unused" },
});
