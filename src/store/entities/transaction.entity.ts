import { defineEntity, type InferEntity, p } from "@mikro-orm/core";
import type { TransactionKind } from "../../domain/index.js";

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
  },
});

export type TransactionRow = InferEntity<typeof TransactionEntity>;
