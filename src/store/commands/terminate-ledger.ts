import type { EntityManager } from "@mikro-orm/postgresql";
import { type Ledger, ledgerNotFound } from "../../domain/index.js";
import { LedgerEntity } from "../entities/index.js";
import { lockLedgers } from "../locks.js";

/** LEDGER_NOT_FOUND. Terminating a terminated ledger returns it unchanged. */
export async function terminateLedger(
  em: EntityManager,
  ledgerId: string,
  now: Date,
): Promise<Ledger> {
  const ledger = (await lockLedgers(em, [ledgerId])).get(ledgerId);
  if (ledger === undefined) {
    throw ledgerNotFound(ledgerId);
  }
  if (ledger.status === "TERMINATED") {
    return ledger;
  }
  await em.nativeUpdate(
    LedgerEntity,
    { id: ledgerId },
    { status: "TERMINATED", terminatedAt: now },
  );
  return { ...ledger, status: "TERMINATED", terminatedAt: now };
}
