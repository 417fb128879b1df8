ALTER TABLE "identity_edges" ALTER COLUMN "a" SET DATA TYPE text COLLATE "C";--> statement-breakpoint
ALTER TABLE "identity_edges" ALTER COLUMN "b" SET DATA TYPE text COLLATE "C";--> statement-breakpoint
ALTER TABLE "identity_edges" ALTER COLUMN "source" SET DATA TYPE text COLLATE "C";--> statement-breakpoint
ALTER TABLE "identity_identifiers" ALTER COLUMN "key" SET DATA TYPE text COLLATE "C";--> statement-breakpoint
ALTER TABLE "identity_identifiers" ALTER COLUMN "profile_id" SET DATA TYPE text COLLATE "C";--> statement-breakpoint
ALTER TABLE "identity_overrides" ALTER COLUMN "a" SET DATA TYPE text COLLATE "C";--> statement-breakpoint
ALTER TABLE "identity_overrides" ALTER COLUMN "b" SET DATA TYPE text COLLATE "C";--> statement-breakpoint
ALTER TABLE "identity_overrides" ALTER COLUMN "b" SET DEFAULT '';--> statement-breakpoint
ALTER TABLE "identity_redirects" ALTER COLUMN "from_id" SET DATA TYPE text COLLATE "C";--> statement-breakpoint
ALTER TABLE "identity_redirects" ALTER COLUMN "to_id" SET DATA TYPE text COLLATE "C";--> statement-breakpoint
ALTER TABLE "identity_rejected_identifiers" ALTER COLUMN "type" SET DATA TYPE text COLLATE "C";--> statement-breakpoint
ALTER TABLE "identity_rejected_identifiers" ALTER COLUMN "raw" SET DATA TYPE text COLLATE "C";--> statement-breakpoint
ALTER TABLE "identity_rejected_identifiers" ALTER COLUMN "reason" SET DATA TYPE text COLLATE "C";--> statement-breakpoint
ALTER TABLE "identity_rejected_links" ALTER COLUMN "a" SET DATA TYPE text COLLATE "C";--> statement-breakpoint
ALTER TABLE "identity_rejected_links" ALTER COLUMN "b" SET DATA TYPE text COLLATE "C";--> statement-breakpoint
ALTER TABLE "identity_rejected_links" ALTER COLUMN "rule" SET DATA TYPE text COLLATE "C";--> statement-breakpoint
ALTER TABLE "identity_removed" ALTER COLUMN "key" SET DATA TYPE text COLLATE "C";