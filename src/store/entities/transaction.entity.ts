import { defineEntity, type InferEntity, p } from "@mikro-orm/core";
import type { TransactionKind, TransactionState } from "../../domain/index.js";

export const TransactionEntity = defineEntity({
  name: "TransactionEntity",
  tableName: "transactions",
  properties: {
    id: p.uuid().primary(),
    app: p.text(),
    kind: p.enum(["ENTRY", "TRANSFER", "REVERSAL"] as const satisfies readonly TransactionKind[]),
    /** Magnitude, the same for every entry of the transaction. */
    amount: p.bigint(),
    reversedAmount: p.bigint(),
    reversesTransactionId: p.uuid().nullable(),
    /** Unique per app when not empty. */
    externalTransactionId: p.text(),
    createdAt: p.datetime().columnType("timestamptz"),
    state: p.enum([
      "POSTED",
      "PENDING",
      "VOIDED",
      "EXPIRED",
    ] as const satisfies readonly TransactionState[]),
    /** Holds only: the amount reserved; `amount` is what was posted once POSTED. */
    heldAmount: p.bigint().nullable(),
    pendingExpiresAt: p.datetime().columnType("timestamptz").nullable(),
    resolvedAt: p.datetime().columnType("timestamptz").nullable(),
  },
});

export type TransactionRow = InferEntity<typeof TransactionEntity>;
