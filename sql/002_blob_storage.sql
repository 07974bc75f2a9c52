-- 002_blob_storage.sql - message bodies: LZ4 instead of pglz.
-- PostgreSQL's default compresses every body over ~2 KB with pglz on its
-- way into TOAST, which was the biggest single CPU cost of a delivery in
-- the backend (docs/ARCHITECTURE.md, "Group commit"). LZ4 compresses
-- several times faster, gives up quickly on bodies that are already
-- compressed (images, archives), and still keeps text mail small on disk
-- and in the WAL. A server built without LZ4 stores bodies uncompressed
-- and out of line instead (EXTERNAL: no compression CPU at all).
-- Applies to rows written from now on; older rows stay as they are.
DO $$
BEGIN
	ALTER TABLE blobs ALTER COLUMN body SET COMPRESSION lz4;
EXCEPTION WHEN feature_not_supported OR syntax_error THEN
	ALTER TABLE blobs ALTER COLUMN body SET STORAGE EXTERNAL;
END
$$;
