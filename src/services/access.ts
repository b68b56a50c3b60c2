// Permission checks shared by the services. Each service calls them at the
// point the order of errors in contract/README.md puts them (after input and existence checks).
import type { Actor } from "../auth/access-tokens";
import { forbidden } from "../errors/app-error";

export function assertAdmin(actor: Actor): void {
  if (actor.role !== "ADMIN") throw forbidden("Only an admin may do this.");
}
