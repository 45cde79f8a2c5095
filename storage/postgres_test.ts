import { registerStorageConformance } from "./conformance.ts";
import { openPostgresStorage } from "./postgres.ts";
import { testPostgresUrl } from "./testing/pg_url.ts";

const url = await testPostgresUrl();
registerStorageConformance("postgres", { open: () => openPostgresStorage(url), url });
