// Accounts: sign-up, sign-in, the signed-in user, the first admin.
import type { PrismaClient } from "../generated/prisma/client";
import type { AccessTokens, Actor } from "../auth/access-tokens";
import { hashPassword, verifyPassword } from "../auth/password";
import { AppError, badInput, unauthenticated } from "../errors/app-error";
import { classifyDbError } from "../errors/db-errors";
import type { RateLimiter } from "../limits/rate-limiter";
import type { Settings } from "../config/settings";
import { isUuid } from "./ids";

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
  settings: Pick<Settings, "signInFailuresPerMinute">;
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
      return { accessToken: this.deps.tokens.issue(user), user };
    } catch (error) {
      if (classifyDbError(error).kind === "unique") {
        throw new AppError("EMAIL_TAKEN", "An account with this e-mail already exists: sign in instead.");
      }
      throw error;
    }
  }

  async signIn(input: { email: string; password: string }): Promise<AuthResult> {
    const email = normaliseEmail(input.email);
    if (input.password.length === 0 || input.password.length > MAX_PASSWORD) throw invalidCredentials();
    const failuresKey = `signin-fail:${email}`;
    const limit = this.deps.settings.signInFailuresPerMinute;
    if ((await this.deps.limiter.peek(failuresKey, 60)) >= limit) {
      throw new AppError("RATE_LIMITED", "Too many failed sign-ins for this e-mail: wait a minute and try again.");
    }
    const found = await this.deps.prisma.user.findUnique({ where: { email }, select: { ...select, passwordHash: true } });
    // An unknown e-mail costs a hash too, so timing does not tell which e-mails have accounts.
    const ok = await verifyPassword(input.password, found?.passwordHash ?? (await this.dummy()));
    if (!found || !ok) {
      await this.deps.limiter.hit(failuresKey, limit, 60);
      throw invalidCredentials();
    }
    const { passwordHash: _, ...user } = found;
    return { accessToken: this.deps.tokens.issue(user), user };
  }

  async me(actor: Actor): Promise<UserView> {
    const user = await this.deps.prisma.user.findUnique({ where: { id: actor.id }, select });
    // A valid token for a user who no longer exists names nobody.
    if (!user) throw unauthenticated("The account of this access token no longer exists.");
    return user;
  }

  async byIds(ids: readonly string[]): Promise<Map<string, UserView>> {
    const users = await this.deps.prisma.user.findMany({ where: { id: { in: ids.filter(isUuid) } }, select });
    return new Map(users.map((u) => [u.id, u]));
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
