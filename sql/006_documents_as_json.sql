-- 006_documents_as_json.sql: a resource's document is stored as json, the text the
-- worker wrote, instead of jsonb (docs/performance.md, "Settings the measurements chose").
--
-- PostgreSQL never looks inside a document: the worker parses it, applies the action
-- and writes the whole new text back, and a GET sends the stored text as it is. As
-- jsonb, every write converted the text to binary (numeric_in for each of a clip's
-- hundred numbers) and every read printed it again; as json, a write only checks that
-- the text is JSON and a read copies it. The action log's columns stay jsonb: their
-- printed form is part of the hash chain.
--
-- Each document keeps its text: jsonb's printed form is what the cast gives, so what a
-- GET answers for a version (and its ETag names) does not change. Later versions keep
-- the members in the order the worker writes them, the order of the document it read.
-- SQL can still read documents with json's operators (data -> 'crop_keyframes',
-- data #>> '{trim_range,end}'); jsonb's containment and equality need data::jsonb.
--
-- Rows grow: a clip's 1.2-1.8 KB of text now stays uncompressed in its row, where
-- PostgreSQL compressed the 2.6 KB jsonb (it compresses only rows over about 2 KB).
-- An update is HOT only if the new row version fits on the old one's page, and
-- fillfactor 90 left 800 bytes free there: 66-93% of the updates were HOT, and the
-- table grew to 3.5 times its size under pgbench. 75 leaves room on every page for one
-- new version of the largest row kept inline (about 2 KB); with it 99.6-99.7% were.
-- Set before the type change, so the rewrite below already packs pages that way.
--
-- The table is rewritten once, under an exclusive lock.

ALTER TABLE resources SET (fillfactor = 75);
ALTER TABLE resources ALTER COLUMN data TYPE json USING data::json;

-- lz4 as 005 set it for the jsonb column, for the documents that still exceed 2 KB
DO $$
BEGIN
    ALTER TABLE resources ALTER COLUMN data SET COMPRESSION lz4;
EXCEPTION WHEN feature_not_supported THEN
    RAISE NOTICE 'PostgreSQL was built without lz4: documents stay compressed with pglz';
END
$$;
