-- A refused pair is one row now, under the rule that first refused it (see RejectedLink): pairs
-- stored under several rules are folded into their earliest row, counts summed.
UPDATE "identity_rejected_links" r SET "count" = p."count", "last_seen" = p."last_seen"
FROM (SELECT "a", "b", sum("count")::int AS "count", max("last_seen") AS "last_seen" FROM "identity_rejected_links" GROUP BY "a", "b" HAVING count(*) > 1) p
WHERE r."a" = p."a" AND r."b" = p."b";--> statement-breakpoint
DELETE FROM "identity_rejected_links" r USING "identity_rejected_links" k
WHERE r."a" = k."a" AND r."b" = k."b" AND (r."ts", r."rule") > (k."ts", k."rule");--> statement-breakpoint
ALTER TABLE "identity_rejected_links" DROP CONSTRAINT "identity_rejected_links_a_b_rule_pk";--> statement-breakpoint
ALTER TABLE "identity_rejected_links" ADD CONSTRAINT "identity_rejected_links_a_b_pk" PRIMARY KEY("a","b");
