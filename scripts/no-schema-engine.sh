#!/bin/sh
# Prisma's CLI wants a native schema engine, which it downloads from a host these machines
# cannot reach. `prisma generate` only checks that the path exists; nothing here needs the
# engine itself, because migrations are applied by src/db/migrate.ts.
echo "The native Prisma schema engine is not installed; migrations run through 'npm run db:deploy'." >&2
exit 1
