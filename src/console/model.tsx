// What the console reads, as types, and how it shows times and amounts.

export type SeatStatus = "AVAILABLE" | "HELD" | "SOLD";

export interface SeatGrade {
  name: string;
  price: number;
  totalSeats: number;
  availableSeats: number;
}
export interface ConcertDate {
  id: string;
  startsAt: string;
  totalSeats: number;
  availableSeats: number;
  soldOut: boolean;
  grades?: SeatGrade[];
}
export interface Concert {
  id: string;
  title: string;
  dates: ConcertDate[];
  saleOpensAt?: string | null;
  openingDrawCommitment?: string | null;
  openingDrawSeed?: string | null;
  ticketLimitPerUser?: number;
  keepLineAfterSellOut?: boolean;
}
export interface QueueStats {
  concertId: string;
  waiting: number;
  active: number;
  admittedPerSecond?: number;
  preQueue?: number;
  seatsLeft?: number;
}
export interface QueuePolicy {
  concertId: string;
  maxActiveUsers: number;
  admitPerSecond: number;
  activeSessionSeconds: number;
  admissionOpen?: boolean;
}
export interface Seat {
  id: string;
  number: number;
  price: number;
  status: SeatStatus;
  grade?: string;
}
export interface GradeSales {
  grade: string;
  price: number;
  sold: number;
  held: number;
  available: number;
  revenue: number;
}
export interface DateSales {
  concertDateId: string;
  startsAt: string;
  grades: GradeSales[];
  sold: number;
  held: number;
  available: number;
  revenue: number;
  refunded: number;
  checkedIn: number;
}
export interface SalesReport {
  concertId: string;
  dates: DateSales[];
  sold: number;
  revenue: number;
  waiting: number;
  active: number;
}

/** A datetime-local input's value (local time, to the second) for a moment. */
export function toLocalInput(date: Date): string {
  const pad = (n: number) => String(n).padStart(2, "0");
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}T${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}`;
}

/** A datetime-local value read as local time, in RFC 3339 UTC; undefined when empty or invalid. */
export function fromLocalInput(value: string): string | undefined {
  if (!value) return undefined;
  const date = new Date(value);
  return Number.isNaN(date.getTime()) ? undefined : date.toISOString();
}

export function formatTime(iso: string): string {
  const d = new Date(iso);
  return `${d.toLocaleString(undefined, { dateStyle: "medium", timeStyle: "medium" })} (${d.toISOString().replace(".000Z", "Z")})`;
}

export function formatSeconds(total: number): string {
  const s = Math.max(0, Math.ceil(total));
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ${s % 60} s`;
  return `${Math.floor(m / 60)} h ${m % 60} min`;
}

export const money = (n: number) => n.toLocaleString();
