// Accounts: sign-up, sign-in, the signed-in user, the first admin.
import type { PrismaClient } from "../generated/prisma/client";
import type { AccessTokens, Actor } from "../auth/access-tokens";
import { hashPassword, verifyPassword } from "../auth/password";
import { AppError, badInput, unauthenticated } from "../errors/app-error";
import { classifyDbError } from "../errors/db-errors";
import type { RateLimiter } from "../limits/rate-limiter";
import type { Settings } from "../config/settings";

export interface UserView {
  id: string;
  email: string;
  role: "USER" | "ADMIN";
  balance: number;
}

export interface AuthResult {
  accessToken: string;
  user: UserView;
}

const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;
const MIN_PASSWORD = 8;
// scrypt takes a long password in stride, but a megabyte of one is an attack.
const MAX_PASSWORD = 256;

type Deps = {
  prisma: PrismaClient;
  tokens: AccessTokens;
  limiter: RateLimiter;
  settings: Pick<Settings, "signInFailuresPerMinute" | "signInFailuresPerAddressPerMinute" | "signInFailuresPerEmailPerMinute">;
};

const select = { id: true, email: true, role: true, balance: true } as const;

export class UserService {
  private dummyHash: Promise<string> | undefined;

  constructor(private readonly deps: Deps) {}

  async signUp(input: { email: string; password: string }): Promise<AuthResult> {
    const email = normaliseEmail(input.email);
    checkPassword(input.password);
    const passwordHash = await hashPassword(input.password);
    try {
      const user = await this.deps.prisma.user.create({ data: { email, passwordHash }, select });
      return { accessToken: await this.deps.tokens.issue(user), user };
    } catch (error) {
      if (classifyDbError(error).kind === "unique") {
        throw new AppError("EMAIL_TAKEN", "An account with this e-mail already exists: sign in instead.");
      }
      throw error;
    }
  }

  /**
   * Failed sign-ins are counted three ways, each per minute: per address and
   * e-mail (SIGN_IN_FAILURES_PER_MINUTE: one guesser against one account), per
   * address over every e-mail (one guesser trying many accounts), and per
   * e-mail over every address, with a looser limit (a guess spread over many
   * addresses). A stranger's failures therefore lock the owner out only from
   * the stranger's own address, unless they come from many addresses at once.
   */
  async signIn(input: { email: string; password: string }, from: { address: string }): Promise<AuthResult> {
    const email = normaliseEmail(input.email);
    if (input.password.length === 0 || input.password.length > MAX_PASSWORD) throw invalidCredentials();
    const { settings, limiter } = this.deps;
    const counters = [
      { key: `signin-fail:ae:${from.address}:${email}`, limit: settings.signInFailuresPerMinute, why: "for this e-mail" },
      { key: `signin-fail:a:${from.address}`, limit: settings.signInFailuresPerAddressPerMinute, why: "from your address" },
      { key: `signin-fail:e:${email}`, limit: settings.signInFailuresPerEmailPerMinute, why: "for this e-mail" },
    ];
    const counts = await Promise.all(counters.map((c) => limiter.peek(c.key, 60)));
    const over = counters.find((c, i) => counts[i] >= c.limit);
    if (over) throw new AppError("RATE_LIMITED", `Too many failed sign-ins ${over.why}: wait a minute and try again.`);
    const found = await this.deps.prisma.user.findUnique({ where: { email }, select: { ...select, passwordHash: true } });
    // An unknown e-mail costs a hash too, so timing does not tell which e-mails have accounts.
    const ok = await verifyPassword(input.password, found?.passwordHash ?? (await this.dummy()));
    if (!found || !ok) {
      await Promise.all(counters.map((c) => limiter.hit(c.key, c.limit, 60)));
      throw invalidCredentials();
    }
    const { passwordHash: _, ...user } = found;
    return { accessToken: await this.deps.tokens.issue(user), user };
  }

  async me(actor: Actor): Promise<UserView> {
    const user = await this.deps.prisma.user.findUnique({ where: { id: actor.id }, select });
    // A valid token for a user who no longer exists names nobody.
    if (!user) throw unauthenticated("The account of this access token no longer exists.");
    return user;
  }

  /** Creates the first admin from the settings, or makes that account an admin. */
  async ensureAdmin(emailInput: string, password: string): Promise<void> {
    const email = normaliseEmail(emailInput);
    checkPassword(password);
    const passwordHash = await hashPassword(password);
    await this.deps.prisma.user.upsert({
      where: { email },
      create: { email, passwordHash, role: "ADMIN" },
      update: { role: "ADMIN" },
    });
  }

  private dummy(): Promise<string> {
    this.dummyHash ??= hashPassword("not-a-password-anyone-has");
    return this.dummyHash;
  }
}

function normaliseEmail(raw: string): string {
  const email = raw.trim().toLowerCase();
  if (email.length > 254 || !EMAIL.test(email)) throw badInput("Give a valid e-mail address.", "email");
  return email;
}

function checkPassword(password: string): void {
  if (password.length < MIN_PASSWORD) {
    throw badInput(`The password is too weak: use at least ${MIN_PASSWORD} characters.`, "password");
  }
  if (password.length > MAX_PASSWORD) throw badInput(`The password is longer than ${MAX_PASSWORD} characters.`, "password");
}

const invalidCredentials = () => new AppError("INVALID_CREDENTIALS", "Wrong e-mail or password.");
