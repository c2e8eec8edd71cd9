import type { MigrationObject } from "@mikro-orm/core";
import { Migration20250601000000_initial } from "./Migration20250601000000_initial.js";
import { Migration20261202000000_transfers } from "./Migration20261202000000_transfers.js";
import { Migration20261203000000_holds } from "./Migration20261203000000_holds.js";
import { Migration20261204000000_time } from "./Migration20261204000000_time.js";
import { Migration20261205000000_stream } from "./Migration20261205000000_stream.js";

/** Every committed migration, oldest first; listed statically (no file globbing). */
export const MIGRATIONS: MigrationObject[] = [
  { name: "Migration20250601000000_initial", class: Migration20250601000000_initial },
  { name: "Migration20261202000000_transfers", class: Migration20261202000000_transfers },
  { name: "Migration20261203000000_holds", class: Migration20261203000000_holds },
  { name: "Migration20261204000000_time", class: Migration20261204000000_time },
  { name: "Migration20261205000000_stream", class: Migration20261205000000_stream },
];
