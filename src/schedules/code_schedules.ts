/**
 * Upserting the schedules of the job modules at start (`JOB_MODULES`): every
 * process that loads them does, and an unchanged schedule changes nothing,
 * so whichever starts first writes a change and the others find it done. A
 * schedule that was defined in code and is no longer is not deleted (another
 * process may still run the older code): it is logged, and the API's DELETE
 * removes it.
 *
 * @module
 */
import type { Logger } from "../log.ts";
import { type CodeSchedule, isCodeSchedule } from "./define.ts";
import type { ScheduleService } from "./service.ts";

/** The schedules exported by the modules at `urls` (already import specifiers). */
export async function moduleSchedules(urls: readonly string[]): Promise<CodeSchedule[]> {
  const found: CodeSchedule[] = [];
  for (const url of urls) {
    const mod = await import(url) as Record<string, unknown>;
    for (const value of Object.values(mod)) {
      for (const item of Array.isArray(value) ? value : [value]) {
        if (isCodeSchedule(item) && !found.includes(item)) found.push(item);
      }
    }
  }
  return found;
}

/**
 * Saves each code schedule (invalid ones are logged and skipped: the rest
 * still run) and logs stored code schedules no module defines any more.
 */
export async function upsertCodeSchedules(
  service: ScheduleService,
  schedules: readonly CodeSchedule[],
  log: Logger,
): Promise<void> {
  const names = new Set<string>();
  for (const s of schedules) {
    names.add(String(s.input.name));
    try {
      const { outcome } = await service.save(s.input, { create: false, source: "code" });
      if (outcome !== "unchanged") log.info(`schedule ${outcome}`, { schedule: s.input.name });
    } catch (error) {
      log.error("code schedule not saved", { schedule: s.input.name, error });
    }
  }
  for (const d of await service.definitions()) {
    if (d.source === "code" && !names.has(d.name)) {
      log.warn("schedule no longer defined in code; kept (DELETE /api/v1/schedules/<name>)", {
        schedule: d.name,
      });
    }
  }
}
