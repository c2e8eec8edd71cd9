import { defineEntity, type InferEntity, p } from "@mikro-orm/core";

export const IdempotencyKeyEntity = defineEntity({
  name: "IdempotencyKeyEntity",
  tableName: "idempotency_keys",
  properties: {
    app: p.text().primary(),
    key: p.text().primary(),
    method: p.text(),
    requestHash: p.text(),
    resourceId: p.uuid(),
    createdAt: p.datetime().columnType("timestamptz"),
  },
});

export type IdempotencyKeyRow = InferEntity<typeof IdempotencyKeyEntity>;
