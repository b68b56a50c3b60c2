// Histories are paged so a long one cannot blow up a response: newest first,
// `first` items (default 50, at most 200) after the cursor `after` (the id of
// the last item of the previous page).
import { badInput } from "../errors/app-error";

export const DEFAULT_PAGE_SIZE = 50;
export const MAX_PAGE_SIZE = 200;

export interface PageArgs {
  first?: number | null;
  after?: string | null;
}

export function pageSize(first: number | null | undefined): number {
  if (first === undefined || first === null) return DEFAULT_PAGE_SIZE;
  if (!Number.isInteger(first) || first < 1 || first > MAX_PAGE_SIZE) {
    throw badInput(`first must be from 1 to ${MAX_PAGE_SIZE}.`, "first");
  }
  return first;
}
