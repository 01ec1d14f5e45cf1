-- 006_documents_as_json.sql: a resource's document is stored as json, the text the
-- worker wrote, instead of jsonb (docs/performance.md, "2026-12-05: documents as text").
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
-- The table is rewritten once, under an exclusive lock.

ALTER TABLE resources ALTER COLUMN data TYPE json USING data::json;

-- the rewrite keeps the column's compression (005), which is what a new column would not
DO $$
BEGIN
    ALTER TABLE resources ALTER COLUMN data SET COMPRESSION lz4;
EXCEPTION WHEN feature_not_supported THEN
    RAISE NOTICE 'PostgreSQL was built without lz4: documents stay compressed with pglz';
END
$$;
