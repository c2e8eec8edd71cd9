/**
 * The proto declarations are enforced when generating: `buf generate` with
 * the ledger-apps plugin fails, naming the app and what is wrong, for an app
 * that lacks a shared operation, declares REVERSAL, repeats a shared
 * operation with another policy (the whole policy: direction, default,
 * fixed, bounds), gives an operation a default against its direction or no
 * policy at all, or a policy that contradicts itself (fixed with bounds,
 * min above max, a negative bound, the default outside the bounds, bounds
 * no amount of the direction meets); and a new app is one proto file that
 * yields a registry the server's domain accepts, with a typed client whose
 * fixed operations take no amount and whose bounded ones document them.
 */
import { execFile } from "node:child_process";
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { delimiter, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { promisify } from "node:util";
import { afterAll, describe, expect, it } from "vitest";
import { createOperationRegistry } from "../../src/domain/index.js";

const root = fileURLToPath(new URL("../..", import.meta.url));
const bin = join(root, "node_modules", ".bin");
const temporaryDirs: string[] = [];
const GENERATE_TIMEOUT_MS = 90_000;

afterAll(() => {
  for (const dir of temporaryDirs) {
    rmSync(dir, { recursive: true, force: true });
  }
});

interface Generation {
  readonly exitCode: number;
  readonly stderr: string;
  readonly outDir: string;
}

/** `buf generate` on the fixture beside the real operations.proto, into a temporary directory. */
async function generateFixture(fixture: string): Promise<Generation> {
  const dir = mkdtempSync(join(tmpdir(), `ledger-apps-${fixture}-`));
  temporaryDirs.push(dir);
  mkdirSync(join(dir, "proto", "ledger", "v1"), { recursive: true });
  cpSync(
    join(root, "proto", "ledger", "v1", "operations.proto"),
    join(dir, "proto", "ledger", "v1", "operations.proto"),
  );
  cpSync(join(root, "test", "fixtures", "apps", fixture), join(dir, "proto"), { recursive: true });
  writeFileSync(
    join(dir, "buf.gen.yaml"),
    [
      "version: v2",
      "inputs:",
      "  - directory: proto",
      "plugins:",
      `  - local: [${JSON.stringify(join(bin, "tsx"))}, ${JSON.stringify(join(root, "src", "codegen", "protoc-gen-ledger-apps.ts"))}]`,
      "    out: gen",
      "    strategy: all",
      "    opt: [target=ts]",
      "",
    ].join("\n"),
  );
  try {
    await promisify(execFile)(join(bin, "buf"), ["generate"], {
      cwd: dir,
      timeout: GENERATE_TIMEOUT_MS,
      env: { ...process.env, PATH: `${bin}${delimiter}${process.env.PATH ?? ""}` },
    });
    return { exitCode: 0, stderr: "", outDir: join(dir, "gen") };
  } catch (error) {
    const failed = error as { code?: number; stderr?: string };
    return {
      exitCode: failed.code ?? -1,
      stderr: failed.stderr ?? String(error),
      outDir: join(dir, "gen"),
    };
  }
}

describe("buf generate with the ledger-apps plugin", () => {
  it(
    "fails for an app that lacks a shared operation, naming the app, its file and the operation",
    async () => {
      const result = await generateFixture("missing-shared");
      expect(result.exitCode).not.toBe(0);
      expect(result.stderr).toContain(
        'app "broken" (apps/broken/v1/broken.proto, enum apps.broken.v1.BrokenOperation) lacks the shared operation CREDIT_ADD: add BROKEN_OPERATION_CREDIT_ADD to the enum',
      );
      expect(existsSync(join(result.outDir, "apps", "registry.ts"))).toBe(false);
    },
    GENERATE_TIMEOUT_MS,
  );

  it(
    "fails for an app that declares the built-in REVERSAL",
    async () => {
      const result = await generateFixture("declares-reversal");
      expect(result.exitCode).not.toBe(0);
      expect(result.stderr).toContain('app "rogue"');
      expect(result.stderr).toContain(
        "declares REVERSAL, the built-in operation of ReverseTransaction",
      );
    },
    GENERATE_TIMEOUT_MS,
  );

  it(
    "fails for an app that repeats a shared operation with another policy, and accepts an identical repeat",
    async () => {
      const result = await generateFixture("conflicting-shared");
      expect(result.exitCode).not.toBe(0);
      expect(result.stderr).toContain(
        'app "greedy" (apps/greedy/v1/greedy.proto, enum apps.greedy.v1.GreedyOperation): DAILY_REWARD is a shared operation (CREDIT default 1 fixed); the app repeats it as CREDIT default 100',
      );
      expect(result.stderr).toContain(
        "CREDIT_SPEND is a shared operation (DEBIT default -1); the app repeats it as DEBIT default -1 amount_max_abs 5",
      );
      expect(result.stderr).not.toContain("SIGNUP_CREDIT");
    },
    GENERATE_TIMEOUT_MS,
  );

  it(
    "fails for a default amount against the direction and an operation without a policy, listing both",
    async () => {
      const result = await generateFixture("wrong-sign");
      expect(result.exitCode).not.toBe(0);
      expect(result.stderr).toContain(
        "BACKWARDS_OPERATION_TICKET_PURCHASE: default_amount 4 disagrees with direction DEBIT",
      );
      expect(result.stderr).toContain("TICKET_REFUND needs a (ledger.v1.policy)");
      expect(result.stderr).not.toContain("TICKET_PURCHASE needs");
    },
    GENERATE_TIMEOUT_MS,
  );

  it(
    "fails for policies that contradict themselves, naming the app and each operation",
    async () => {
      const result = await generateFixture("contradictory-policies");
      expect(result.exitCode).not.toBe(0);
      const app =
        'app "muddled" (apps/muddled/v1/muddled.proto, enum apps.muddled.v1.MuddledOperation)';
      for (const problem of [
        "MUDDLED_OPERATION_FIXED_AND_BOUNDED: fixed excludes amount_min_abs and amount_max_abs: a fixed operation accepts default_amount only",
        "MUDDLED_OPERATION_MIN_ABOVE_MAX: amount_min_abs 10 is above amount_max_abs 3: no amount fits",
        "MUDDLED_OPERATION_NEGATIVE_BOUNDS: amount_min_abs -1 is negative: it bounds the magnitude |amount|",
        "MUDDLED_OPERATION_NEGATIVE_BOUNDS: amount_max_abs -2 is negative: it bounds the magnitude |amount|",
        "MUDDLED_OPERATION_DEFAULT_OUTSIDE: default_amount 50 is outside |amount| from 1 to 20",
        "MUDDLED_OPERATION_NOTHING_FITS: amount_max_abs 0 admits no CREDIT amount (a credit is never 0)",
      ]) {
        expect(result.stderr).toContain(`${app}, ${problem}`);
      }
      // Fixed at 0 either way, and a bounded credit whose default lies within, are fine.
      expect(result.stderr).not.toContain("FIXED_EITHER");
      expect(result.stderr).not.toContain("MUDDLED_OPERATION_TIP");
      expect(existsSync(join(result.outDir, "apps", "registry.ts"))).toBe(false);
    },
    GENERATE_TIMEOUT_MS,
  );

  it(
    "turns one new proto file into an app the server's registry enforces, with a typed client",
    async () => {
      const result = await generateFixture("new-app");
      expect(result.stderr).toBe("");
      expect(result.exitCode).toBe(0);
      const client = readFileSync(
        join(result.outDir, "apps", "quiz", "v1", "quiz_client.ts"),
        "utf8",
      );
      expect(client).toContain("export class QuizClient extends AppClient<QuizOperationName>");
      expect(client).toContain("answerCorrect(ledgerId: string");
      expect(client).toContain(
        "export type QuizTransferItem = AppTransferItem<QuizOperationName>;",
      );
      // A fixed operation's method takes no amount; a bounded one's says its bounds.
      expect(client).toContain("hint(ledgerId: string, options?: AppFixedRecordOptions)");
      expect(client).toContain("(operation, debit, fixed at -1: it takes no amount)");
      expect(client).toContain("wager(ledgerId: string, options?: AppRecordOptions)");
      expect(client).toContain("(operation, debit, default -5, |amount| from 1 to 50)");

      // The generated registry is plain data: load it and build the server's registry from it.
      const registry = (await import(
        pathToFileURL(join(result.outDir, "apps", "registry.ts")).href
      )) as typeof import("../../gen/apps/registry.js");
      expect(registry.APPS.map((app) => app.app)).toEqual(["quiz"]);
      const operations = createOperationRegistry({
        shared: registry.SHARED_OPERATIONS,
        apps: registry.APPS.map((spec) => ({ app: spec.app, operations: spec.operations })),
      });
      const quiz = operations.operationsFor("quiz");
      expect(quiz.get("ANSWER_CORRECT")).toEqual({
        name: "ANSWER_CORRECT",
        direction: "CREDIT",
        defaultAmountMinor: 2n,
        fixed: false,
        amountMinAbsMinor: undefined,
        amountMaxAbsMinor: undefined,
      });
      expect(quiz.get("WAGER")).toMatchObject({
        defaultAmountMinor: -5n,
        fixed: false,
        amountMinAbsMinor: 1n,
        amountMaxAbsMinor: 50n,
      });
      expect(quiz.get("HINT")).toMatchObject({ defaultAmountMinor: -1n, fixed: true });
      expect(quiz.get("DAILY_REWARD")).toMatchObject({ defaultAmountMinor: 1n, fixed: true });
      expect([...quiz.keys()]).toEqual([
        "DAILY_REWARD",
        "SIGNUP_CREDIT",
        "CREDIT_SPEND",
        "CREDIT_ADD",
        "ANSWER_CORRECT",
        "WAGER",
        "HINT",
      ]);
      expect(operations.operationsFor("undeclared").has("ANSWER_CORRECT")).toBe(false);
    },
    GENERATE_TIMEOUT_MS,
  );
});
