import { defineEntity, type InferEntity, p } from "@mikro-orm/core";
import type { LedgerStatus, Metadata } from "../../domain/index.js";

export const LedgerEntity = defineEntity({
  name: "LedgerEntity",
  tableName: "ledgers",
  properties: {
    id: p.uuid().primary(),
    app: p.text(),
    ownerId: p.text(),
    unit: p.text(),
    description: p.text(),
    reference: p.text(),
    metadata: p.json<Metadata>().columnType("jsonb"),
    status: p.enum(["ACTIVE", "TERMINATED"] as const satisfies readonly LedgerStatus[]),
    balance: p.bigint(),
    /** null: unbounded. */
    minBalance: p.bigint().nullable(),
    version: p.bigint(),
    createdAt: p.datetime().columnType("timestamptz"),
    terminatedAt: p.datetime().columnType("timestamptz").nullable(),
    /** Every PENDING hold's debits, lapsed ones included (the reads leave those out). */
    pendingDebits: p.bigint(),
    pendingCredits: p.bigint(),
    /** The created_at of the latest entry in history order; null before the first. */
    historyAt: p.datetime().columnType("timestamptz").nullable(),
    validFrom: p.datetime().columnType("timestamptz").nullable(),
    validUntil: p.datetime().columnType("timestamptz").nullable(),
    expireToLedgerId: p.uuid().nullable(),
  },
});

export type LedgerRow = InferEntity<typeof LedgerEntity>;
