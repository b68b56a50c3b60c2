import { Field, ID, Int, ObjectType, registerEnumType } from "type-graphql";

export enum Role {
  USER = "USER",
  ADMIN = "ADMIN",
}
registerEnumType(Role, { name: "Role" });

@ObjectType({ simpleResolvers: true })
export class User {
  @Field(() => ID) id!: string;
  @Field(() => String) email!: string;
  @Field(() => Role) role!: Role;
  @Field(() => Int) balance!: number;
}

@ObjectType({ simpleResolvers: true })
export class AuthPayload {
  @Field(() => String) accessToken!: string;
  @Field(() => User) user!: User;
}
