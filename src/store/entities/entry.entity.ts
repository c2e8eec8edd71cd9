import { defineEntity, type InferEntity, p } from "@mikro-orm/core";
import type { Metadata } from "../../domain/index.js";

export const EntryEntity = defineEntity({
  name: "EntryEntity",
  tableName: "entries",
  properties: {
    id: p.uuid().primary(),
    transactionId: p.uuid(),
    ledgerId: p.uuid(),
    sequence: p.bigint(),
    operation: p.text(),
    amount: p.bigint(),
    balanceAfter: p.bigint(),
    occurredAt: p.datetime().columnType("timestamptz"),
    createdAt: p.datetime().columnType("timestamptz"),
    description: p.text(),
    reference: p.text(),
    metadata: p.json<Metadata>().columnType("jsonb"),
    externalTransactionId: p.text(),
    /** For an entry of a reversal: the transaction it compensates (as its transaction's). */
    reversesTransactionId: p.uuid().nullable(),
  },
});

export type EntryRow = InferEntity<typeof EntryEntity>;
