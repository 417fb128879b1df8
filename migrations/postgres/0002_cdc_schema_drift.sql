CREATE TABLE "cdc_schema_drift" (
	"source" text NOT NULL,
	"table_name" text NOT NULL,
	"column_name" text NOT NULL,
	"first_seen_at" timestamp with time zone DEFAULT now() NOT NULL,
	"last_seen_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "cdc_schema_drift_source_table_name_column_name_pk" PRIMARY KEY("source","table_name","column_name")
);
