CREATE SEQUENCE "public"."identity_version_seq" INCREMENT BY 1 MINVALUE 1 MAXVALUE 9223372036854775807 START WITH 1 CACHE 1;--> statement-breakpoint
CREATE TABLE "identity_edges" (
	"a" text NOT NULL,
	"b" text NOT NULL,
	"source" text NOT NULL,
	"first_seen" bigint NOT NULL,
	"first_record_id" text NOT NULL,
	"last_seen" bigint NOT NULL,
	"count" integer NOT NULL,
	CONSTRAINT "identity_edges_a_b_source_pk" PRIMARY KEY("a","b","source")
);
--> statement-breakpoint
CREATE TABLE "identity_identifiers" (
	"key" text PRIMARY KEY NOT NULL,
	"type" text NOT NULL,
	"value" text NOT NULL,
	"profile_id" text NOT NULL,
	"first_seen" bigint NOT NULL,
	"version" bigint NOT NULL
);
--> statement-breakpoint
CREATE TABLE "identity_merges" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"from_id" text NOT NULL,
	"into_id" text NOT NULL,
	"record_id" text NOT NULL,
	"ts" bigint NOT NULL,
	"reason" text NOT NULL
);
--> statement-breakpoint
CREATE TABLE "identity_overrides" (
	"kind" text NOT NULL,
	"a" text NOT NULL,
	"b" text DEFAULT '' NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "identity_overrides_kind_a_b_pk" PRIMARY KEY("kind","a","b")
);
--> statement-breakpoint
CREATE TABLE "identity_redirects" (
	"from_id" text PRIMARY KEY NOT NULL,
	"to_id" text NOT NULL,
	"record_id" text NOT NULL,
	"ts" bigint NOT NULL
);
--> statement-breakpoint
CREATE TABLE "identity_rejected_identifiers" (
	"type" text NOT NULL,
	"raw" text NOT NULL,
	"reason" text NOT NULL,
	"record_id" text NOT NULL,
	"ts" bigint NOT NULL,
	"last_seen" bigint NOT NULL,
	"count" integer NOT NULL,
	CONSTRAINT "identity_rejected_identifiers_type_raw_reason_pk" PRIMARY KEY("type","raw","reason")
);
--> statement-breakpoint
CREATE TABLE "identity_rejected_links" (
	"a" text NOT NULL,
	"b" text NOT NULL,
	"rule" text NOT NULL,
	"source" text NOT NULL,
	"record_id" text NOT NULL,
	"ts" bigint NOT NULL,
	"last_seen" bigint NOT NULL,
	"count" integer NOT NULL,
	CONSTRAINT "identity_rejected_links_a_b_rule_pk" PRIMARY KEY("a","b","rule")
);
--> statement-breakpoint
CREATE TABLE "identity_removed" (
	"key" text NOT NULL,
	"version" bigint PRIMARY KEY NOT NULL
);
--> statement-breakpoint
CREATE INDEX "identity_edges_b_idx" ON "identity_edges" USING btree ("b");--> statement-breakpoint
CREATE INDEX "identity_identifiers_profile_idx" ON "identity_identifiers" USING btree ("profile_id");--> statement-breakpoint
CREATE INDEX "identity_identifiers_version_idx" ON "identity_identifiers" USING btree ("version");--> statement-breakpoint
CREATE INDEX "identity_overrides_b_idx" ON "identity_overrides" USING btree ("b");--> statement-breakpoint
CREATE INDEX "identity_redirects_to_idx" ON "identity_redirects" USING btree ("to_id");--> statement-breakpoint
CREATE INDEX "identity_rejected_links_b_idx" ON "identity_rejected_links" USING btree ("b");--> statement-breakpoint
CREATE INDEX "identity_removed_key_idx" ON "identity_removed" USING btree ("key");