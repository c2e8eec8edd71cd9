import type { EntityManager } from "@mikro-orm/postgresql";
import { CompiledQuery } from "kysely";

/**
 * Runs one hand-written statement with bind parameters ($1, $2, ...) in the
 * unit of work's transaction. MikroORM's `em.execute` inlines every value
 * into the SQL text; the pipeline's statements carry whole batches as
 * arrays, so they go to the driver as parameters instead: the text stays the
 * same whatever the batch, and no value is quoted or parsed as SQL.
 *
 * `signal` cancels the statement on the server when the one caller of a
 * batch gives up (a shared batch runs on, see group-commit.ts).
 */
export async function sqlRows<T>(
  em: EntityManager,
  text: string,
  params: readonly unknown[],
  signal: AbortSignal | undefined,
): Promise<T[]> {
  const result = await em
    .getKysely()
    .executeQuery<T>(
      CompiledQuery.raw(text, [...params]),
      signal === undefined ? undefined : { signal, inflightQueryAbortStrategy: "cancel query" },
    );
  return [...result.rows];
}
